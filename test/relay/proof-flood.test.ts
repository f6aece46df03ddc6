/**
 * Forged-payment floods: a requester process floods a real node (real store, its own verify
 * pool) with PAY frames that pass the precheck but not their signature, at several times what
 * the pool can verify (measured first), beside an honest SDK session paying once a second. The
 * honest session must keep its ACKs well within its credit window and never be torn down, the
 * forger must be cut off, and the node's queues must stay bounded.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import type { ChannelId } from "../../channels/types.ts";
import { CloseCode } from "../../relay/errors.ts";
import type { ProviderStats, SessionClosedEvent } from "../../relay/provider/index.ts";
import { DEFAULT_PIPELINE_LIMITS } from "../../relay/provider/proof-pipeline.ts";
import { connect } from "../../relay/requester/client.ts";
import { domain, keyOf, removeDir, sleep, startProvider, type TestProvider } from "./helpers.ts";

/** The honest session's credit window: 2 units of credit at one unit a second (helpers.ts). */
const CREDIT_WINDOW_MS = 2_000;

let pool: VerifyPool;
/** Signatures per second the pool verifies, measured here. */
let poolRate = 0;

beforeAll(async () => {
  pool = await VerifyPool.create({ threads: 1 });
  const s = createSigner(keyOf("rate"));
  const jobs = Array.from({ length: 2_000 }, (_, i) => {
    const proof = {
      channelId: `0x${(i + 1).toString(16).padStart(64, "0")}` as ChannelId,
      nonce: 1n,
      transferred: 1n,
    };
    return {
      domain,
      proof,
      signature: s.signBalanceProof(domain, proof),
      expectedSigner: s.address,
    };
  });
  await pool.verifyMany(jobs.slice(0, 200));
  const t = performance.now();
  await pool.verifyMany(jobs);
  poolRate = jobs.length / ((performance.now() - t) / 1000);
});
afterAll(async () => {
  await pool.close();
});

interface ForgerResult {
  sent: number;
  errors: Record<string, number>;
  closeCode: number | null;
}

function forge(p: TestProvider, label: string, rate: number, seconds: number) {
  const key = keyOf(label);
  const ref = p.channel(key, 1_000_000n);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      new URL("./fixtures/forger.ts", import.meta.url).pathname,
      p.node.url,
      Buffer.from(key).toString("hex"),
      JSON.stringify({
        channelId: ref.channelId,
        ref: ref.ref,
      }),
      String(Math.round(rate)),
      String(seconds),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const done = new Promise<ForgerResult>((resolve, reject) => {
    child.once("exit", () => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!) as ForgerResult);
      } catch (err) {
        reject(new Error(`forger printed ${JSON.stringify(out)}: ${String(err)}`));
      }
    });
  });
  return { child, done };
}

/** An SDK session paying once a second; records each payment's proof-to-ACK latency. */
async function honest(p: TestProvider, label: string) {
  const key = keyOf(label);
  const ref = p.channel(key, 1_000_000n);
  const client = await connect({ key, url: p.node.url });
  const session = await client.openSession({
    channel: ref,
    mode: "second",
    unitPrice: 10n,
    tunnel: { kind: "proxy" },
  });
  const sentAt = new Map<bigint, number>();
  const latencies: number[] = [];
  const warns: number[] = [];
  let ended: string | null = null;
  // The SDK signs and sends on its own timer: watch its channel for each new nonce it sends.
  const watch = setInterval(() => {
    const n = client.channel(ref.channelId)?.sent?.proof.nonce;
    if (n !== undefined && !sentAt.has(n)) sentAt.set(n, performance.now());
  }, 2);
  session.on("ack", (a) => {
    const t = sentAt.get(a.nonce);
    if (t !== undefined) latencies.push(performance.now() - t);
  });
  session.on("warn", (w) => warns.push(w.teardownInMs));
  void session.closed.then((e) => {
    ended = e.code;
  });
  return {
    channelId: ref.channelId,
    latencies,
    warns,
    ended: () => ended,
    async stop() {
      clearInterval(watch);
      await client.close();
    },
  };
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;

/** Samples the node's stats and RSS every 50 ms until stopped. */
function sampler(p: TestProvider) {
  const samples: ProviderStats[] = [];
  let rssPeak = process.memoryUsage().rss;
  const t = setInterval(() => {
    samples.push(p.node.stats());
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 50);
  return {
    samples,
    rssPeak: () => rssPeak,
    stop: () => clearInterval(t),
  };
}

describe("a forged-payment flood", () => {
  it("cuts the forger off after a few failed verifications; the honest session pays on", async () => {
    const p = await startProvider({ verifyPool: pool });
    const closed: SessionClosedEvent[] = [];
    p.node.on("session-closed", (e) => closed.push(e));
    try {
      const h = await honest(p, "honest-1");
      await sleep(1_200);
      const rate = Math.max(5_000, 4 * poolRate);
      const f = forge(p, "forger-1", rate, 4);
      const result = await f.done;
      await sleep(2_500);
      const st = p.node.stats();
      expect(result.closeCode).toBe(CloseCode.POLICY_VIOLATION);
      expect(result.errors.TOO_MANY_INVALID_PROOFS).toBe(1);
      expect(st.pipeline.connectionsCut).toBe(1);
      // What the forger cost: one verification per batch until the threshold, not its flood.
      expect(st.signaturesVerified).toBeLessThan(100);
      expect(result.errors.SIGNER_MISMATCH).toBeLessThanOrEqual(20);
      expect(h.ended()).toBeNull();
      expect(h.warns).toEqual([]);
      expect(h.latencies.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...h.latencies)).toBeLessThan(CREDIT_WINDOW_MS / 2);
      expect(closed.filter((e) => e.channelId === h.channelId)).toEqual([]);
      await h.stop();
    } finally {
      await p.stop();
      removeDir(p.dir);
    }
  }, 30_000);

  it("with no threshold, a sustained flood neither delays the honest session nor grows the queues", async () => {
    const limits = { invalidProofs: null };
    const p = await startProvider({ verifyPool: pool, proofPipeline: limits });
    const closed: SessionClosedEvent[] = [];
    p.node.on("session-closed", (e) => closed.push(e));
    try {
      const h = await honest(p, "honest-2");
      await sleep(1_200);
      const rssBefore = process.memoryUsage().rss;
      const s = sampler(p);
      const rate = Math.max(5_000, 4 * poolRate);
      const seconds = 6;
      const f = forge(p, "forger-2", rate, seconds);
      const result = await f.done;
      s.stop();
      await sleep(1_500);
      // The flood was real: most of it could not even be queued.
      expect(result.sent).toBeGreaterThan(rate * seconds * 0.5);
      expect(result.closeCode).toBeNull();
      expect(result.errors.PROOF_QUEUE_FULL).toBeGreaterThan(0);
      const st = p.node.stats();
      expect(st.pipeline.proofsDropped).toBeGreaterThan(0);
      for (const x of s.samples) {
        expect(x.pipeline.largestConnectionQueue).toBeLessThanOrEqual(
          DEFAULT_PIPELINE_LIMITS.maxQueuedPerConnection,
        );
        expect(x.pipeline.queuedProofs).toBeLessThanOrEqual(
          DEFAULT_PIPELINE_LIMITS.maxQueued + DEFAULT_PIPELINE_LIMITS.reservedPerConnection * 2,
        );
      }
      expect(st.pipeline.queuedProofsPeak).toBeLessThanOrEqual(
        DEFAULT_PIPELINE_LIMITS.maxQueuedPerConnection + 64,
      );
      // 4,096 queued proofs are a few MB; the unbounded queue grew by hundreds.
      expect(s.rssPeak() - rssBefore).toBeLessThan(150 * 1024 * 1024);
      expect(h.ended()).toBeNull();
      expect(h.warns).toEqual([]);
      expect(h.latencies.length).toBeGreaterThanOrEqual(seconds);
      expect(p99(h.latencies)).toBeLessThan(CREDIT_WINDOW_MS / 2);
      expect(closed.filter((e) => e.channelId === h.channelId)).toEqual([]);
      await h.stop();
    } finally {
      await p.stop();
      removeDir(p.dir);
    }
  }, 40_000);
});
