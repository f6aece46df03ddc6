/**
 * The worker pool: per-channel ordering, cumulative batches, fallback backend, shutdown, and every
 * kind of job in one pool.
 */
import { Worker } from "node:worker_threads";
import { hexlify, TypedDataEncoder, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { structType, type TypedDomain } from "../../channels/crypto/eip712.ts";
import { BALANCE_PROOF_JOB, type VerifyJob } from "../../channels/crypto/job-balance-proof.ts";
import { RECORD_HEADER, writeRecord } from "../../channels/crypto/job-codec.ts";
import type { JobKind } from "../../channels/crypto/job-kind.ts";
import { TYPED_DATA_JOB, type TypedDataJob } from "../../channels/crypto/job-typed-data.ts";
import { createSigner } from "../../channels/crypto/signer.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import type { WorkerRequest, WorkerResponse } from "../../channels/crypto/verify-worker.ts";
import { isChannelError } from "../../channels/errors.ts";
import { alice, bob, channelIdOf, domain, keyOf, mallory } from "./helpers.ts";

let pool: VerifyPool;
beforeAll(async () => {
  pool = await VerifyPool.create({ threads: 2, maxBatch: 7 });
});
afterAll(async () => {
  await pool.close();
});

const job = (n: number, nonce: bigint, transferred: bigint, signer = alice) => {
  const proof = { channelId: channelIdOf(n), nonce, transferred };
  return {
    domain,
    proof,
    signature: signer.signBalanceProof(domain, proof),
    expectedSigner: alice.address,
  };
};

describe("VerifyPool", () => {
  it("uses the native backend here and verifies many proofs across both workers", async () => {
    expect(pool.backend).toBe("native");
    expect(pool.threads).toBe(2);
    const jobs = Array.from({ length: 300 }, (_, i) =>
      job(i % 13, BigInt(i + 1), BigInt(i), i % 10 === 0 ? mallory : alice),
    );
    const results = await pool.verifyMany(jobs);
    expect(results.map((r) => r.ok)).toEqual(jobs.map((_, i) => i % 10 !== 0));
  });

  it("settles the promises of one channel in submission order, whatever the workers do", async () => {
    const order: string[] = [];
    const ps: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const ch = i % 3;
      ps.push(
        pool
          .verify(job(100 + ch, BigInt(i + 1), BigInt(i)))
          .then(() => void order.push(`${ch}:${i}`)),
      );
    }
    await Promise.all(ps);
    for (let ch = 0; ch < 3; ch++) {
      const seq = order.filter((o) => o.startsWith(`${ch}:`)).map((o) => Number(o.split(":")[1]));
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
      expect(seq).toHaveLength(ch === 2 ? 66 : 67);
    }
  });

  it("cumulative batch: verifies only the highest proof per channel, falls back when it is bad", async () => {
    const jobs = [
      job(1, 1n, 10n),
      job(1, 2n, 20n),
      job(1, 3n, 30n), // best of channel 1
      job(2, 1n, 5n),
      job(2, 2n, 6n),
      job(2, 3n, 7n, mallory), // best of channel 2, forged -> fall back to nonce 2
      job(3, 1n, 1n, bob), // only proof of channel 3, forged
    ];
    const r = await pool.verifyCumulative(jobs);
    expect(r[2]).toEqual({ kind: "checked", check: { ok: true, value: alice.address } });
    expect(r[0]).toEqual({ kind: "superseded", by: 2 });
    expect(r[1]).toEqual({ kind: "superseded", by: 2 });
    expect(r[5]).toMatchObject({ kind: "checked", check: { ok: false, code: "SIGNER_MISMATCH" } });
    expect(r[4]).toEqual({ kind: "checked", check: { ok: true, value: alice.address } });
    expect(r[3]).toEqual({ kind: "superseded", by: 4 });
    expect(r[6]).toMatchObject({ kind: "checked", check: { ok: false, code: "SIGNER_MISMATCH" } });
  });

  it("cumulative ranking follows the contract: more transferred beats a higher nonce", async () => {
    const r = await pool.verifyCumulative([job(5, 9n, 10n), job(5, 8n, 11n)]);
    expect(r[1]).toMatchObject({ kind: "checked", check: { ok: true } });
    expect(r[0]).toEqual({ kind: "superseded", by: 1 });
  });

  it("a cumulative round spread over many worker batches answers each job in its place", async () => {
    // maxBatch 7: 40 channels go out as several batches to both workers.
    const jobs = Array.from({ length: 40 }, (_, i) =>
      job(100 + i, 1n, BigInt(i + 1), i % 3 === 0 ? mallory : alice),
    );
    const j = job(200, 1n, 1n);
    jobs.push({ ...j, proof: { ...j.proof, transferred: 1n << 256n } });
    const r = await pool.verifyCumulative(jobs);
    r.slice(0, 40).forEach((x, i) => {
      expect(x).toMatchObject({ kind: "checked", check: { ok: i % 3 !== 0 } });
    });
    expect(r[40]).toMatchObject({
      kind: "checked",
      check: { ok: false, code: "VALUE_OUT_OF_RANGE" },
    });
  });

  it("fails a cumulative round in flight with POOL_CLOSED when the pool closes", async () => {
    const p = await VerifyPool.create({ threads: 1 });
    const round = p.verifyCumulative(Array.from({ length: 50 }, (_, i) => job(300 + i, 1n, 1n)));
    const failed = expect(round).rejects.toSatisfy((e) => isChannelError(e, "POOL_CLOSED"));
    await p.close();
    await failed;
  });

  it("answers VALUE_OUT_OF_RANGE for proofs that cannot be encoded, without a worker", async () => {
    const j = job(1, 1n, 1n);
    const bad = { ...j, proof: { ...j.proof, nonce: 1n << 64n } };
    await expect(pool.verify(bad)).resolves.toMatchObject({
      ok: false,
      code: "VALUE_OUT_OF_RANGE",
    });
  });

  it("runs on the pure-JS fallback backend too", async () => {
    const p = await VerifyPool.create({ threads: 1, backend: "noble" });
    try {
      expect(p.backend).toBe("noble");
      const other = createSigner(keyOf("carol"));
      const r = await p.verifyMany([job(1, 1n, 1n), job(1, 2n, 2n, other)]);
      expect(r.map((x) => x.ok)).toEqual([true, false]);
    } finally {
      await p.close();
    }
  });

  it("rejects with POOL_CLOSED after close", async () => {
    const p = await VerifyPool.create({ threads: 1 });
    await p.close();
    await expect(p.verify(job(1, 1n, 1n))).rejects.toSatisfy((e) =>
      isChannelError(e, "POOL_CLOSED"),
    );
  });
});

describe("VerifyPool under forged proofs", () => {
  it("checks a channel's forged proofs in two rounds, not one worker round trip each", async () => {
    const p = await VerifyPool.create({ threads: 1 });
    try {
      const jobs = Array.from({ length: 400 }, (_, i) => job(400, BigInt(i + 2), 10n, mallory));
      jobs.push(job(400, 1n, 5n)); // the only valid one, lowest in rank
      jobs.push(job(401, 1n, 1n)); // another channel, valid
      const before = p.load().batches;
      const r = await p.verifyCumulative(jobs);
      // Round one: the two channels' best proofs; round two: the other 400 of channel 400.
      expect(p.load().batches - before).toBeLessThanOrEqual(4);
      for (const x of r.slice(0, 400)) {
        expect(x).toMatchObject({ kind: "checked", check: { ok: false, code: "SIGNER_MISMATCH" } });
      }
      expect(r[400]).toMatchObject({ kind: "checked", check: { ok: true } });
      expect(r[401]).toMatchObject({ kind: "checked", check: { ok: true } });
    } finally {
      await p.close();
    }
  });

  it("a valid proof among forged ones wins, and valid ones below it are superseded by it", async () => {
    const r = await pool.verifyCumulative([
      job(410, 5n, 50n, mallory),
      job(410, 4n, 40n),
      job(410, 3n, 30n, mallory),
      job(410, 2n, 20n),
    ]);
    expect(r[0]).toMatchObject({ kind: "checked", check: { ok: false } });
    expect(r[1]).toMatchObject({ kind: "checked", check: { ok: true } });
    expect(r[2]).toMatchObject({ kind: "checked", check: { ok: false } });
    expect(r[3]).toEqual({ kind: "superseded", by: 1 });
  });

  it("counts the time its workers are busy and the jobs they answer", async () => {
    const a = pool.load();
    await pool.verifyMany(Array.from({ length: 50 }, (_, i) => job(420 + i, 1n, 1n)));
    const b = pool.load();
    expect(b.jobsDone - a.jobsDone).toBe(50);
    expect(b.busyMs).toBeGreaterThan(a.busyMs);
    expect(b.threads).toBe(2);
  });
});

// A flat struct of every field type the encoder knows, signed by ethers (the reference).
const mailFields = [
  { name: "from", type: "address" },
  { name: "contents", type: "string" },
  { name: "tag", type: "bytes32" },
  { name: "count", type: "uint32" },
  { name: "amount", type: "uint256" },
];
const Mail = structType("Mail", mailFields);
const mailDomain: TypedDomain = { name: "mail", version: "2", chainId: 5 };
const aliceWallet = new Wallet(hexlify(keyOf("alice")));

async function mailJob(n: number, contents = `hello ${n} — grüße`): Promise<TypedDataJob> {
  const message = {
    from: alice.address,
    contents,
    tag: channelIdOf(n),
    count: n,
    amount: BigInt(n) << 200n,
  };
  const sig = await aliceWallet.signTypedData(mailDomain, { Mail: mailFields }, message);
  return { domain: mailDomain, type: Mail, message, signature: Buffer.from(sig.slice(2), "hex") };
}

describe("one pool, every kind of job", () => {
  it("verifies balance proofs and typed data submitted together, each by its kind", async () => {
    const mails = await Promise.all(Array.from({ length: 20 }, (_, i) => mailJob(i + 1)));
    const proofs = Array.from({ length: 20 }, (_, i) =>
      job(500 + (i % 4), BigInt(i + 1), BigInt(i), i % 5 === 0 ? mallory : alice),
    );
    // Interleaved in one event-loop turn: the batches carry both kinds.
    const before = pool.load().batches;
    const [p, m] = await Promise.all([
      Promise.all(proofs.map((j) => pool.verify(j))),
      Promise.all(mails.map((j) => pool.verifyTypedData(j))),
    ]);
    expect(pool.load().batches - before).toBeLessThanOrEqual(8);
    expect(p.map((r) => r.ok)).toEqual(proofs.map((_, i) => i % 5 !== 0));
    m.forEach((r, i) => {
      const { message } = mails[i]!;
      expect(r).toEqual({
        ok: true,
        value: {
          signer: alice.address,
          digest: TypedDataEncoder.hash(mailDomain, { Mail: mailFields }, message),
        },
      });
    });
  });

  it("recovers another signer, or none, for a typed message that was not signed as given", async () => {
    const good = await mailJob(7);
    const edited = { ...good, message: { ...good.message, count: 8 } };
    const otherDomain = { ...good, domain: { ...mailDomain, chainId: 6 } };
    const badV = Buffer.from(good.signature);
    badV[64] = 29;
    const [a, b, c, d] = await Promise.all([
      pool.verifyTypedData(edited),
      pool.verifyTypedData(otherDomain),
      pool.verifyTypedData({ ...good, signature: badV }),
      pool.verifyTypedData({ ...good, message: { ...good.message, count: 2 ** 32 } }),
    ]);
    for (const r of [a, b]) expect(r.ok && r.value.signer).not.toBe(alice.address);
    expect(c).toMatchObject({ ok: false, code: "SIGNATURE_BAD_V" });
    expect(d).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
  });

  it("refuses a job handed to the other kind: its fields do not fit", async () => {
    const proof = job(510, 1n, 1n);
    const mail = await mailJob(1);
    const [a, b] = await Promise.all([
      pool.verifyTypedData(proof as unknown as TypedDataJob),
      pool.run(BALANCE_PROOF_JOB, mail as unknown as VerifyJob),
    ]);
    expect(a).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
    expect(b).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
  });

  it("runs only the kinds its workers know", () => {
    const stranger: JobKind<VerifyJob, unknown> = { ...BALANCE_PROOF_JOB, tag: 99 };
    expect(() => pool.run(stranger, job(1, 1n, 1n))).toThrow(TypeError);
  });

  it("a worker answers a record tagged as another kind with VALUE_OUT_OF_RANGE, and only it", async () => {
    const mail = await mailJob(3);
    const records: [JobKind<never, unknown>, unknown][] = [
      [BALANCE_PROOF_JOB, job(520, 1n, 1n)],
      [TYPED_DATA_JOB, mail],
      [BALANCE_PROOF_JOB, job(521, 1n, 1n)],
      [TYPED_DATA_JOB, mail],
      [BALANCE_PROOF_JOB, job(522, 1n, 1n)],
    ];
    const size = records.reduce((n, [k, j]) => n + RECORD_HEADER + k.size(j as never), 0);
    const ab = new ArrayBuffer(size);
    const buf = Buffer.from(ab);
    const starts: number[] = [];
    const outOffs: number[] = [];
    let o = 0;
    let outSize = 0;
    for (const [kind, j] of records) {
      starts.push(o);
      outOffs.push(outSize);
      o = writeRecord(buf, o, kind, j as never, outSize);
      outSize += kind.outSize;
    }
    // The second proof read as typed data, the second mail read as a proof.
    buf[starts[2]!] = TYPED_DATA_JOB.tag;
    buf[starts[3]!] = BALANCE_PROOF_JOB.tag;
    const worker = new Worker(new URL("../../channels/crypto/verify-worker.ts", import.meta.url), {
      workerData: { backend: "auto", mode: "cached-key" },
    });
    try {
      const res = await new Promise<WorkerResponse>((resolve, rejectP) => {
        worker.on("error", rejectP);
        worker.on("message", (m: WorkerResponse | { ready: true }) => {
          if ("id" in m) resolve(m);
        });
        const req: WorkerRequest = { id: 1, buf: ab, count: records.length, outSize };
        worker.postMessage(req, [ab]);
      });
      const results = records.map(([kind, j], i) =>
        kind.result(j as never, res.codes[i]!, res.out, outOffs[i]!),
      );
      expect(results[0]).toMatchObject({ ok: true });
      expect(results[1]).toMatchObject({ ok: true, value: { signer: alice.address } });
      expect(results[2]).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
      expect(results[3]).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
      expect(results[4]).toMatchObject({ ok: true });
    } finally {
      await worker.terminate();
    }
  });
});
