/** The worker pool: per-channel ordering, cumulative batches, fallback backend, shutdown. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
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
    expect(r[2]).toEqual({ kind: "checked", check: { ok: true, signer: alice.address } });
    expect(r[0]).toEqual({ kind: "superseded", by: 2 });
    expect(r[1]).toEqual({ kind: "superseded", by: 2 });
    expect(r[5]).toMatchObject({ kind: "checked", check: { ok: false, code: "SIGNER_MISMATCH" } });
    expect(r[4]).toEqual({ kind: "checked", check: { ok: true, signer: alice.address } });
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
