/**
 * Balance proofs, as fast as this machine allows: secp256k1 backends compared (sign, plain verify,
 * recover, recover against a cached key), keccak, the verification pool on every core, cumulative
 * batches (newest proof per channel), and the group-committing level store.
 *
 * `node bench/proofs.ts` prints tables; `--json` prints one JSON object on stdout with at least
 * `verifyPerSec`, `signPerSecPerCore`, `durableUpdatesPerSec` and `commitP99Ms`. Progress goes to
 * stderr. Runs in about a minute; others share the cores, so figures are noisy.
 */
import { createHash, createPublicKey, verify as opensslVerify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { keccak_256 } from "@noble/hashes/sha3.js";
import Table from "cli-table3";
import * as hdr from "hdr-histogram-js";
import type { BackendName } from "../channels/crypto/backend.ts";
import { balanceProofDigest, eip712Domain } from "../channels/crypto/eip712.ts";
import { keccak256 } from "../channels/crypto/keccak.ts";
import { loadBackend } from "../channels/crypto/load-backend.ts";
import { createSigner } from "../channels/crypto/signer.ts";
import { ProofVerifier, type VerifyMode } from "../channels/crypto/verifier.ts";
import { type VerifyJob, VerifyPool } from "../channels/crypto/verify-pool.ts";
import type { SignedBalanceProof } from "../channels/signed.ts";
import { type ChannelState, createChannel } from "../channels/state/channel-state.ts";
import { transition } from "../channels/state/transition.ts";
import { ChannelStore } from "../channels/store/channel-store.ts";
import { asChannelId, type ChannelDomain, type ChannelId } from "../channels/types.ts";
import { progress, wantsJson } from "./lib/report.ts";

const TARGET_VERIFY = 35_000;
const TARGET_SIGN = 20_000;
const TARGET_DURABLE = 20_000;
const TARGET_P99_MS = 10;

const domain: ChannelDomain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const dom = eip712Domain(domain);
const keyOf = (label: string) => createHash("sha256").update(`bench:${label}`).digest();
const channelIdOf = (n: number): ChannelId => asChannelId(`0x${n.toString(16).padStart(64, "0")}`);

/** Runs `fn` repeatedly for about `ms` milliseconds (after a short warm-up); returns ops/s. */
function rate(ms: number, fn: (i: number) => void): number {
  for (let i = 0; i < 50; i++) fn(i);
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let k = 0; k < 25; k++) fn(n++);
    now = performance.now();
  }
  return Math.round(n / ((now - start) / 1000));
}

const round = (x: number) => Math.round(x);

// ---------------------------------------------------------------- single-core crypto

interface BackendFigures {
  signPerSec: number;
  verifyOnlyPerSec: number;
  recoverPerSec: number;
  cachedKeyPerSec: number;
}

function measureBackend(name: BackendName, ms: number): BackendFigures {
  const backend = loadBackend(name);
  const signer = createSigner(keyOf("alice"), backend);
  const proofs = Array.from({ length: 256 }, (_, i) => ({
    channelId: channelIdOf(i),
    nonce: BigInt(i + 1),
    transferred: 10n ** 15n * BigInt(i + 1),
  }));
  const sigs = proofs.map((p) => signer.signBalanceProof(dom, p));
  const pub = backend.publicKey(keyOf("alice"), true);
  const compacts = sigs.map((s) => s.subarray(0, 64));
  const verifiers: Record<VerifyMode, ProofVerifier> = {
    recover: new ProofVerifier({ backend, mode: "recover" }),
    "cached-key": new ProofVerifier({ backend, mode: "cached-key" }),
  };
  const check = (mode: VerifyMode) => (i: number) => {
    const k = i & 255;
    const r = verifiers[mode].verifyBalanceProof(dom, proofs[k]!, sigs[k]!, signer.address);
    if (!r.ok) throw new Error(`${name}/${mode}: verification failed`);
  };
  return {
    // Sign includes the EIP-712 digest, as a node pays it.
    signPerSec: rate(ms, (i) => signer.signBalanceProof(dom, proofs[i & 255]!)),
    // Plain ECDSA verify against a known key, digest included; ignores v, so NOT used (see
    // channels/crypto/verifier.ts): reported to show what the v check costs.
    verifyOnlyPerSec: rate(ms, (i) => {
      const k = i & 255;
      if (!backend.verify(compacts[k]!, balanceProofDigest(dom, proofs[k]!), pub)) {
        throw new Error("verify failed");
      }
    }),
    recoverPerSec: rate(ms, check("recover")),
    cachedKeyPerSec: rate(ms, check("cached-key")),
  };
}

/** Node's OpenSSL: ECDSA verify with a secp256k1 KeyObject and ieee-p1363 signatures. */
function measureOpenssl(ms: number): number {
  const native = loadBackend("native");
  const sk = keyOf("openssl");
  const pub65 = native.publicKey(sk, false);
  const key = createPublicKey({
    key: {
      kty: "EC",
      crv: "secp256k1",
      x: Buffer.from(pub65.subarray(1, 33)).toString("base64url"),
      y: Buffer.from(pub65.subarray(33)).toString("base64url"),
    },
    format: "jwk",
  });
  const msgs = Array.from({ length: 64 }, (_, i) => Buffer.from(`message ${i}`));
  // OpenSSL hashes the message itself (SHA-256 here); Node offers no keccak and no way to pass a
  // prehashed digest, so it cannot check an EIP-712 signature at all. Timed for the record.
  const sigs = msgs.map((m) => native.sign(createHash("sha256").update(m).digest(), sk).compact);
  return rate(ms, (i) => {
    const k = i & 63;
    if (!opensslVerify("sha256", msgs[k]!, { key, dsaEncoding: "ieee-p1363" }, sigs[k]!)) {
      throw new Error("openssl verify failed");
    }
  });
}

// ---------------------------------------------------------------- pool

function makeJobs(count: number, channels: number, perChannelRun: number): VerifyJob[] {
  // Proofs arrive in runs of `perChannelRun` consecutive proofs per channel (1: interleaved).
  const signers = Array.from({ length: 16 }, (_, i) => createSigner(keyOf(`payer${i}`)));
  const jobs: VerifyJob[] = [];
  const nonces = new Array<bigint>(channels).fill(0n);
  let ch = 0;
  while (jobs.length < count) {
    for (let k = 0; k < perChannelRun && jobs.length < count; k++) {
      const s = signers[ch % signers.length]!;
      nonces[ch] = nonces[ch]! + 1n;
      const proof = {
        channelId: channelIdOf(ch),
        nonce: nonces[ch]!,
        transferred: nonces[ch]! * 1000n,
      };
      jobs.push({
        domain: dom,
        proof,
        signature: s.signBalanceProof(dom, proof),
        expectedSigner: s.address,
      });
    }
    ch = (ch + 1) % channels;
  }
  return jobs;
}

async function poolRate(pool: VerifyPool, jobs: readonly VerifyJob[]): Promise<number> {
  const start = performance.now();
  const results = await pool.verifyMany(jobs);
  const secs = (performance.now() - start) / 1000;
  if (!results.every((r) => r.ok)) throw new Error("pool rejected a valid proof");
  return round(jobs.length / secs);
}

/**
 * Effective proofs/s when a receiver verifies batches of `batch` proofs cumulatively (only the
 * highest proof per channel and sender), with two batches in flight so that the workers never
 * wait for the main thread.
 */
async function cumulativeRate(pool: VerifyPool, jobs: readonly VerifyJob[], batch: number) {
  let verified = 0;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < jobs.length; i += batch) {
    inflight.push(
      pool.verifyCumulative(jobs.slice(i, i + batch)).then((r) => {
        verified += r.filter((x) => x.kind === "checked").length;
      }),
    );
    if (inflight.length >= 2) await inflight.shift();
  }
  await Promise.all(inflight);
  const secs = (performance.now() - start) / 1000;
  return {
    proofsPerSec: round(jobs.length / secs),
    signaturesChecked: verified,
    proofs: jobs.length,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---------------------------------------------------------------- store

async function storeBench(writers: number, ms: number) {
  const dir = mkdtempSync(join(tmpdir(), "tollway-bench-store-"));
  const store = await ChannelStore.open(dir);
  const hist = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 10_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const signature = new Uint8Array(65).fill(7);
  signature[64] = 27;
  let done = 0;
  const end = performance.now() + ms;
  const writer = async (w: number) => {
    const channelId = channelIdOf(w);
    let nonce = 0n;
    while (performance.now() < end) {
      nonce += 1n;
      const signed: SignedBalanceProof = {
        proof: { channelId, nonce, transferred: nonce * 1_000_000n },
        signature,
      };
      const t0 = performance.now();
      await store.putReceived(channelId, signed);
      hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  const secs = (performance.now() - start) / 1000;
  const stats = store.stats;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const out = {
    writers,
    updatesPerSec: round(done / secs),
    p50Ms: hist.getValueAtPercentile(50) / 1000,
    p99Ms: hist.getValueAtPercentile(99) / 1000,
    maxMs: hist.maxValue / 1000,
    batches: stats.batches,
    opsPerBatch: round(stats.ops / Math.max(1, stats.batches)),
  };
  hist.destroy();
  return out;
}

// ---------------------------------------------------------------- end to end

/**
 * What the relay will do for each incoming proof: verify (pool) → transition → persist (group
 * commit) → ACK, over many channels at once. Returns acknowledged proofs/s.
 */
async function pipelineRate(jobs: readonly VerifyJob[], channels: number, cores: number) {
  const dir = mkdtempSync(join(tmpdir(), "tollway-bench-pipeline-"));
  const store = await ChannelStore.open(dir);
  const pool = await VerifyPool.create({ threads: cores });
  const states = new Map<ChannelId, ChannelState>();
  const me = createSigner(keyOf("receiver"));
  const signers = Array.from({ length: 16 }, (_, i) => createSigner(keyOf(`payer${i}`)));
  for (let ch = 0; ch < channels; ch++) {
    let s = createChannel({
      channelId: channelIdOf(ch),
      domain,
      participantA: signers[ch % signers.length]!.address,
      participantB: me.address,
      self: "B",
      settleTimeout: 600n,
    });
    s = transition(
      s,
      { type: "ChainChannelOpened", channelId: s.params.channelId, depositA: 10n ** 30n },
      { now: 0n, blockNumber: 0n, signer: me },
    ).state;
    states.set(s.params.channelId, s);
    await store.persist(undefined, s);
  }
  const ctx = { now: 1n, blockNumber: 1n, signer: me };
  let acked = 0;
  const start = performance.now();
  await Promise.all(
    jobs.map((job) =>
      pool.verify(job).then((check) => {
        const id = job.proof.channelId;
        const before = states.get(id)!;
        const signed = { proof: job.proof, signature: job.signature };
        const { state } = transition(
          before,
          { type: "ReceiveBalanceProof", signed, domain, check },
          ctx,
        );
        states.set(id, state);
        return store.persist(before, state).then(() => {
          acked++;
        });
      }),
    ),
  );
  const secs = (performance.now() - start) / 1000;
  await pool.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (acked !== jobs.length) throw new Error("pipeline lost proofs");
  return round(acked / secs);
}

// ---------------------------------------------------------------- main

async function main() {
  const json = wantsJson();
  const cores = availableParallelism();
  progress(`bench:proofs on ${cores} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}`);

  progress("keccak256 (128-byte input)...");
  const buf = new Uint8Array(128);
  const out32 = new Uint8Array(32);
  const keccak = {
    tollwayPerSec: rate(400, () => keccak256(buf, out32)),
    noblePerSec: rate(400, () => keccak_256(buf)),
  };

  const backends: Record<string, BackendFigures> = {};
  for (const name of ["native", "noble", "elliptic"] as const) {
    progress(`secp256k1 backend ${name} (one core)...`);
    backends[name] = measureBackend(name, name === "native" ? 800 : 500);
  }
  progress("OpenSSL (node:crypto) verify...");
  const opensslVerifyPerSec = measureOpenssl(500);

  progress("signing 40,000 proofs for the pool runs...");
  const jobs = makeJobs(40_000, 1_000, 1);

  const poolFigures: Record<string, { runs: number[]; median: number }> = {};
  for (const mode of ["cached-key", "recover"] as const) {
    const pool = await VerifyPool.create({ threads: cores, mode });
    await pool.verifyMany(jobs.slice(0, 4_000)); // warm-up, fills the key caches
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      progress(`pool ${mode}: run ${i + 1}/3...`);
      runs.push(await poolRate(pool, jobs));
    }
    poolFigures[mode] = { runs, median: median(runs) };
    await pool.close();
  }

  progress("cumulative batches (newest proof per channel)...");
  const cumulative: Record<
    string,
    { proofsPerSec: number; signaturesChecked: number; proofs: number }
  > = {};
  const pool = await VerifyPool.create({ threads: cores });
  const BATCH = 2_000;
  for (const perChannel of [1, 2, 4, 8]) {
    // BATCH / perChannel channels, interleaved: each batch holds `perChannel` proofs per channel.
    const cj = makeJobs(Math.min(32_000, 8_000 * perChannel), BATCH / perChannel, 1);
    await pool.verifyMany(cj.slice(0, 2_000));
    progress(`cumulative: ${perChannel} proof(s) per channel per batch...`);
    cumulative[`perChannelPerBatch${perChannel}`] = await cumulativeRate(pool, cj, BATCH);
  }
  await pool.close();

  progress("end to end: verify -> transition -> store -> ACK...");
  const pipelinePerSec = await pipelineRate(jobs.slice(0, 30_000), 1_000, cores);

  progress("store: group commit, closed loop...");
  const storeRuns = [];
  for (const writers of [64, 256, 1_000, 4_000]) {
    progress(`store: ${writers} concurrent writers...`);
    storeRuns.push(await storeBench(writers, 3_000));
  }
  // The headline: the busiest run whose p99 stays within the target, else the lowest-p99 run.
  const withinP99 = storeRuns.filter((r) => r.p99Ms <= TARGET_P99_MS);
  const headline =
    withinP99.length > 0
      ? withinP99.reduce((a, b) => (b.updatesPerSec > a.updatesPerSec ? b : a))
      : storeRuns.reduce((a, b) => (b.p99Ms < a.p99Ms ? b : a));

  const native = backends.native!;
  const verifyPerSec = poolFigures["cached-key"]!.median;
  const report = {
    cores,
    backend: loadBackend().name,
    verifyPerSec,
    verifyPerSecRecover: poolFigures.recover!.median,
    verifyRuns: poolFigures["cached-key"]!.runs,
    verifyBestRun: Math.max(...poolFigures["cached-key"]!.runs),
    verifyPerSecPerCoreSingleThread: native.cachedKeyPerSec,
    signPerSecPerCore: native.signPerSec,
    durableUpdatesPerSec: headline.updatesPerSec,
    commitP99Ms: headline.p99Ms,
    commitP50Ms: headline.p50Ms,
    storeWriters: headline.writers,
    storeRuns,
    pipelinePerSec,
    cumulative,
    backends,
    opensslVerifyPerSec,
    keccak,
    targets: {
      verifyPerSec: TARGET_VERIFY,
      signPerSecPerCore: TARGET_SIGN,
      durableUpdatesPerSec: TARGET_DURABLE,
      commitP99Ms: TARGET_P99_MS,
    },
  };

  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  const head = new Table({ head: ["figure", "measured", "target", ""] });
  head.push(
    [
      "verify, pool on all cores (proofs/s)",
      verifyPerSec,
      `>= ${TARGET_VERIFY}`,
      mark(verifyPerSec >= TARGET_VERIFY),
    ],
    [
      "sign, one core (proofs/s)",
      native.signPerSec,
      `>= ${TARGET_SIGN}`,
      mark(native.signPerSec >= TARGET_SIGN),
    ],
    [
      "durable updates (/s)",
      headline.updatesPerSec,
      `>= ${TARGET_DURABLE}`,
      mark(headline.updatesPerSec >= TARGET_DURABLE),
    ],
    [
      "commit p99 (ms)",
      headline.p99Ms,
      `<= ${TARGET_P99_MS}`,
      mark(headline.p99Ms <= TARGET_P99_MS),
    ],
  );
  const be = new Table({
    head: [
      "one core, digest included",
      "sign/s",
      "verify only (no v)/s",
      "recover/s",
      "cached key/s",
    ],
  });
  for (const [name, f] of Object.entries(backends)) {
    be.push([name, f.signPerSec, f.verifyOnlyPerSec, f.recoverPerSec, f.cachedKeyPerSec]);
  }
  be.push(["openssl (sha256 digest only)", "-", opensslVerifyPerSec, "-", "-"]);
  const pt = new Table({ head: ["pool", "proofs/s (median)", "runs"] });
  for (const [mode, f] of Object.entries(poolFigures)) pt.push([mode, f.median, f.runs.join(", ")]);
  for (const [k, v] of Object.entries(cumulative)) {
    pt.push([
      `cumulative, ${k.replace("perChannelPerBatch", "")} per channel per batch of ${BATCH}`,
      v.proofsPerSec,
      `${v.signaturesChecked} signatures for ${v.proofs} proofs`,
    ]);
  }
  const st = new Table({
    head: ["store writers", "updates/s", "p50 ms", "p99 ms", "max ms", "ops/batch"],
  });
  for (const r of storeRuns)
    st.push([r.writers, r.updatesPerSec, r.p50Ms, r.p99Ms, r.maxMs, r.opsPerBatch]);
  process.stdout.write(
    `Balance proofs on ${cores} cores, backend ${report.backend}\n${head.toString()}\n` +
      `secp256k1 backends\n${be.toString()}\n` +
      `keccak256 128 B: tollway ${keccak.tollwayPerSec}/s, @noble/hashes ${keccak.noblePerSec}/s\n` +
      `verification pool\n${pt.toString()}\n` +
      `end to end (verify -> transition -> durable store -> ACK, 1,000 channels): ${pipelinePerSec} proofs/s\nstore (classic-level, synced group commit)\n${st.toString()}\n`,
  );
}

await main();
