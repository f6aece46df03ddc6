/**
 * Relay benchmark: one provider node (this process: WebSocket server, verify pool on both cores,
 * level store with group commit) against a load generator in a child process on loopback.
 *
 *   node bench/relay.ts [--json] [--quick]
 *
 * Phases: one channel pipelined; 100 connections pipelined (aggregate), first on a second node
 * with the proof pipeline's guards off (no queue bounds, one batch of everything waiting, no
 * connection closed for invalid proofs), then on this one with them on, to say what the guards
 * cost; proof→ACK latency in a
 * sweep of offered loads up to half the specified 20,000 proofs/s, every proof fresh, after the
 * store has settled from the throughput phases (each step warmed up for 0.5 s, then timed: 3 s
 * below half load, 20 s at half load, long enough to take in the store's periodic flushes to
 * disk); 10,000 sessions paying once per second;
 * teardown after payments stop (credit window, WARN, grace; SDK clients). Every proof is really
 * signed (pre-signed in worker threads, except in the teardown phase, where the SDK signs), verified
 * (cumulatively: per channel and batch only the best proof), persisted and ACKed.
 * Progress goes to stderr; the report (JSON or a table) to stdout.
 */
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import Table from "cli-table3";
import { build } from "hdr-histogram-js";
import { createSigner } from "../channels/crypto/signer.ts";
import type { ChannelRef } from "../channels/settlement/channel-ref.ts";
import { MemoryChain } from "../channels/settlement/memory/memory-chain.ts";
import type { ChannelDomain, ChannelId } from "../channels/types.ts";
import { isRelayError } from "../relay/errors.ts";
import { retryAfterOf } from "../relay/provider/admission.ts";
import {
  createProviderNode,
  type ProviderNodeOptions,
  type SessionClosedEvent,
} from "../relay/provider/index.ts";
import { PIPELINE_GUARDS_OFF } from "../relay/provider/proof-pipeline.ts";
import { connect, type RequesterClient, type Session } from "../relay/requester/client.ts";
import { openWireConnection } from "../relay/requester/wire-connection.ts";
import { createProxyDriver } from "../relay/tunnel/proxy/proxy-driver.ts";
import { encodeFrame } from "../relay/wire/codec.ts";
import type { Frame } from "../relay/wire/frames.ts";
import { measureFloors, ratio } from "./lib/floors.ts";

const QUICK = process.argv.includes("--quick");
const JSON_OUT = process.argv.includes("--json");
const CFG = {
  singleProofs: QUICK ? 5_000 : 30_000,
  aggConns: 100,
  aggProofsPerConn: QUICK ? 100 : 600,
  /** Seconds timed at each rate of the latency sweep below half load, and at half load. */
  sweepStepSeconds: QUICK ? 2 : 3,
  halfLoadSeconds: QUICK ? 2 : 20,
  sessions: QUICK ? 1_000 : 10_000,
  sessionConns: QUICK ? 100 : 1_000,
  sessionHoldSeconds: QUICK ? 5 : 15,
  teardownSessions: QUICK ? 50 : 300,
};
const domain: ChannelDomain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const DEPOSIT = 10n ** 15n;
/**
 * Each step of the latency sweep runs this long before it is timed: the first tens of ms of a new
 * rate (fresh closures in the generator, the node's batches growing) are the start, not the rate.
 */
const LATENCY_WARMUP_MS = QUICK ? 250 : 500;
/** The latency sweep, proofs/s; the last step is half load. */
const SWEEP_RATES = [2_500, 5_000, 7_500, 10_000];
/** Half the aggregate a node is specified for (20,000 verified, durable, acknowledged proofs/s). */
const HALF_LOAD_PROOFS_PER_SEC = 10_000;
/** How long a step of the sweep is timed. */
const stepSeconds = (rate: number) =>
  rate === HALF_LOAD_PROOFS_PER_SEC ? CFG.halfLoadSeconds : CFG.sweepStepSeconds;
/** Proofs per connection pre-signed for the latency phase: the whole sweep, with some margin. */
const LATENCY_PROOFS_PER_CONN = Math.ceil(
  (1.05 / CFG.aggConns) *
    SWEEP_RATES.reduce((sum, r) => sum + r * (stepSeconds(r) + LATENCY_WARMUP_MS / 1000), 0),
);
const SECOND_PRICE = 1_000n;
const SECOND_CREDIT = 2_000n;

const keyOf = (label: string) => createHash("sha256").update(`tollway-bench:${label}`).digest();
const providerKey = keyOf("provider");
const providerAddress = createSigner(providerKey).address;
const log = (msg: string) => process.stderr.write(`[bench:relay] ${msg}\n`);

/** The `n`-th channel of the requester `label`. */
interface ChannelSpec {
  label: string;
  n: number;
}
/**
 * The bench's channels, opened on the in-memory chain by the node's process before the run and
 * handed to the load process with its first command: id and reference by spec.
 */
const channelTable = new Map<string, { channelId: ChannelId; ref: ChannelRef }>();
const specKey = (spec: ChannelSpec) => `${spec.label}#${spec.n}`;
const chanOf = (spec: ChannelSpec) => {
  const c = channelTable.get(specKey(spec));
  if (c === undefined) throw new Error(`no channel ${specKey(spec)}`);
  return { ...c, depositA: DEPOSIT };
};

// ---------------------------------------------------------------------------------------------
// signer worker (in the load process): pre-signs and pre-encodes PAY frames

interface SignJob {
  label: string;
  channelId: ChannelId;
  from: number;
  count: number;
  /** Nonce n pays (n + offset) · unit in all (default: n). */
  unit?: bigint;
  offset?: number;
}

/**
 * A job's pre-signed PAY frames, back to back in one buffer: a few large buffers instead of
 * hundreds of thousands of small ones keep the load process's garbage collector out of the
 * latency it measures. PAY frames of 65-byte signatures all have the same length.
 */
class SignedRun {
  readonly buf: Buffer;
  readonly len: number;
  readonly count: number;
  constructor(buf: Buffer, len: number, count: number) {
    this.buf = buf;
    this.len = len;
    this.count = count;
  }
  /** The frame of nonce `from + i` of the job. */
  frame(i: number): Buffer {
    return this.buf.subarray(i * this.len, (i + 1) * this.len);
  }
}

/** A `SignedRun` as the signer worker posts it (its buffer transferred). */
interface RunMessage {
  buf: ArrayBuffer;
  len: number;
  count: number;
}

function signerWorker(): void {
  const jobs = workerData as SignJob[];
  const out: RunMessage[] = [];
  for (const job of jobs) {
    const signer = createSigner(keyOf(job.label));
    let buf: Uint8Array | null = null;
    let len = 0;
    for (let k = 0; k < job.count; k++) {
      const n = job.from + k;
      const transferred = BigInt(n + (job.offset ?? 0)) * (job.unit ?? 1n);
      const proof = { channelId: job.channelId, nonce: BigInt(n), transferred };
      const frame = encodeFrame({
        type: "PAY",
        ...proof,
        signature: signer.signBalanceProof(domain, proof),
      });
      if (buf === null) {
        len = frame.length;
        buf = new Uint8Array(new ArrayBuffer(len * job.count));
      }
      if (frame.length !== len) throw new Error("PAY frames differ in length");
      buf.set(frame, k * len);
    }
    out.push({ buf: (buf ?? new Uint8Array(0)).buffer as ArrayBuffer, len, count: job.count });
  }
  parentPort!.postMessage(
    out,
    out.map((o) => o.buf),
  );
}

async function presign(jobs: SignJob[]): Promise<SignedRun[]> {
  const halves = [jobs.filter((_, i) => i % 2 === 0), jobs.filter((_, i) => i % 2 === 1)];
  const results = await Promise.all(
    halves.map(
      (part) =>
        new Promise<SignedRun[]>((resolve, reject) => {
          if (part.length === 0) return resolve([]);
          const w = new Worker(new URL(import.meta.url), { workerData: part });
          w.once("message", (m: RunMessage[]) => {
            resolve(m.map((r) => new SignedRun(Buffer.from(r.buf), r.len, r.count)));
            void w.terminate();
          });
          w.once("error", reject);
        }),
    ),
  );
  const out: SignedRun[] = [];
  jobs.forEach((_, i) => {
    out.push(results[i % 2]![Math.floor(i / 2)]!);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// load process

type Cmd =
  | { phase: "presign"; channels: [string, ChannelId, ChannelRef][] }
  | { phase: "single"; url: string }
  | { phase: "aggregate" | "aggregate-off"; url: string; from: number; to: number }
  | { phase: "latency"; url: string; rate: number }
  | { phase: "sessions"; url: string }
  | { phase: "teardown"; url: string };

interface RawChan {
  send(n: number): void;
  acked: number;
  onAck: ((nonce: number, at: number) => void) | null;
  close(): void;
}

/** OPEN for a bench channel: a proxy session, one unit paid ahead. */
function openFrame(spec: ChannelSpec, mode: "packet" | "second", unitPrice: bigint): Frame {
  return {
    type: "OPEN",
    channelId: chanOf(spec).channelId,
    ref: chanOf(spec).ref,
    dealId: "bench",
    mode,
    unitPrice,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume: null,
  };
}

/** Resolves after `ms`. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A raw channel, asked again after the node's retry hint while it answers BUSY. */
async function rawChannel(spec: ChannelSpec, url: string, frames: SignedRun): Promise<RawChan> {
  for (;;) {
    try {
      return await rawChannelOnce(spec, url, frames);
    } catch (err) {
      const hint = err instanceof BusyError ? err.retryAfterMs : null;
      if (hint === null) throw err;
      await sleep(hint);
    }
  }
}

/** The node answered an OPEN with BUSY. */
class BusyError extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super(`BUSY, retry after ${retryAfterMs} ms`);
    this.retryAfterMs = retryAfterMs;
  }
}

async function rawChannelOnce(spec: ChannelSpec, url: string, frames: SignedRun): Promise<RawChan> {
  const wire = await openWireConnection({ url, signer: createSigner(keyOf(spec.label)) });
  const chan: RawChan = {
    acked: 0,
    onAck: null,
    send: (n) => wire.sendRaw(frames.frame(n - 1)),
    close: () => wire.close(),
  };
  const ready = new Promise<void>((resolve, reject) => {
    wire.onFrame = (f) => {
      if (f.type === "ACK") {
        const n = Number(f.nonce);
        if (n > chan.acked) {
          chan.acked = n;
          chan.onAck?.(n, performance.now());
        }
      } else if (f.type === "READY") resolve();
      else if (f.type === "ERROR" && f.code === "BUSY") {
        wire.close();
        reject(new BusyError(retryAfterOf(f.message) ?? 1_000));
      } else if (f.type === "ERROR") {
        reject(new Error(`${f.code}: ${f.message}`));
      }
    };
  });
  wire.send(openFrame(spec, "packet", 1n));
  chan.send(1);
  await ready;
  return chan;
}

/** Pipelines frames [from, to] on each channel with a window; resolves with the elapsed ms. */
function pipeline(chans: RawChan[], from: number, to: number, window: number): Promise<number> {
  const start = performance.now();
  return new Promise((resolve) => {
    let done = 0;
    for (const ch of chans) {
      let next = from;
      const pump = () => {
        while (next <= to && next - ch.acked <= window) ch.send(next++);
      };
      ch.onAck = (n) => {
        if (n >= to) {
          ch.onAck = null;
          if (++done === chans.length) resolve(performance.now() - start);
          return;
        }
        pump();
      };
      pump();
    }
  });
}

async function loadMain(): Promise<void> {
  const single: ChannelSpec = { label: "single", n: 1 };
  const agg = Array.from({ length: CFG.aggConns }, (_, i) => ({ label: `agg-${i}`, n: 1 }));
  let frames: { single: SignedRun; agg: SignedRun[] } | null = null;
  let aggChans: RawChan[] = [];
  let offChans: RawChan[] = [];
  let latency: { sentAt: Float64Array[]; next: number[]; lastTimed: number[] } | null = null;
  const reply = (m: unknown) => process.send!(m);

  process.on("message", async (cmd: Cmd) => {
    try {
      if (cmd.phase === "presign") {
        for (const [key, channelId, ref] of cmd.channels) channelTable.set(key, { channelId, ref });
        const perAgg = CFG.aggProofsPerConn + LATENCY_PROOFS_PER_CONN;
        const t = performance.now();
        const signed = await presign([
          {
            label: single.label,
            channelId: chanOf(single).channelId,
            from: 1,
            count: CFG.singleProofs,
          },
          ...agg.map((a) => ({
            label: a.label,
            channelId: chanOf(a).channelId,
            from: 1,
            count: perAgg,
          })),
        ]);
        frames = { single: signed[0]!, agg: signed.slice(1) };
        reply({
          ok: true,
          signMs: performance.now() - t,
          signed: CFG.singleProofs + perAgg * agg.length,
        });
      } else if (cmd.phase === "single") {
        const ch = await rawChannel(single, cmd.url, frames!.single);
        const ms = await pipeline([ch], 2, CFG.singleProofs, 4_000);
        ch.close();
        reply({ ok: true, proofs: CFG.singleProofs - 1, ms });
      } else if (cmd.phase === "aggregate" || cmd.phase === "aggregate-off") {
        // The same pre-signed proofs on both nodes: each has a store of its own.
        const off = cmd.phase === "aggregate-off";
        let chans = off ? offChans : aggChans;
        if (chans.length === 0) {
          chans = await Promise.all(agg.map((a, i) => rawChannel(a, cmd.url, frames!.agg[i]!)));
          if (off) offChans = chans;
          else aggChans = chans;
        }
        const ms = await pipeline(chans, cmd.from, cmd.to, 200);
        if (off && cmd.to === CFG.aggProofsPerConn) for (const ch of chans) ch.close();
        reply({ ok: true, proofs: (cmd.to - cmd.from + 1) * agg.length, ms });
      } else if (cmd.phase === "latency") {
        const hist = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
        const perConn = frames!.agg[0]!.count;
        // Each step of the sweep goes on where the last one stopped, with fresh proofs.
        latency ??= {
          sentAt: aggChans.map(() => new Float64Array(perConn + 1)),
          next: aggChans.map(() => CFG.aggProofsPerConn + 1),
          lastTimed: aggChans.map(() => CFG.aggProofsPerConn),
        };
        const { sentAt, next, lastTimed } = latency;
        aggChans.forEach((ch, i) => {
          ch.onAck = (n, at) => {
            for (let k = lastTimed[i]! + 1; k <= n; k++) {
              if (sentAt[i]![k]! > 0)
                hist.recordValue(Math.max(1, Math.round((at - sentAt[i]![k]!) * 1000)));
            }
            lastTimed[i] = Math.max(lastTimed[i]!, n);
          };
        });
        const start = performance.now();
        let sent = 0;
        let rr = 0;
        await new Promise<void>((resolve) => {
          const timer = setInterval(() => {
            const now = performance.now();
            if (now - start > LATENCY_WARMUP_MS + stepSeconds(cmd.rate) * 1000) {
              clearInterval(timer);
              resolve();
              return;
            }
            const due = Math.floor(((now - start) / 1000) * cmd.rate);
            while (sent < due) {
              const i = rr++ % aggChans.length;
              const n = next[i]!;
              if (n > perConn) break;
              // 0 (untimed) during the warm-up.
              sentAt[i]![n] = now - start < LATENCY_WARMUP_MS ? 0 : performance.now();
              aggChans[i]!.send(n);
              next[i] = n + 1;
              sent++;
            }
          }, 1);
        });
        await new Promise((r) => setTimeout(r, 500));
        reply({
          ok: true,
          sent,
          p50Ms: hist.getValueAtPercentile(50) / 1000,
          p99Ms: hist.getValueAtPercentile(99) / 1000,
          maxMs: hist.maxValue / 1000,
          timed: hist.totalCount,
        });
      } else if (cmd.phase === "sessions") {
        for (const ch of aggChans) ch.close();
        reply(await sessionsPhase(cmd.url));
      } else if (cmd.phase === "teardown") {
        reply(await teardownPhase(cmd.url));
      }
    } catch (err) {
      reply({ ok: false, error: String((err as Error)?.stack ?? err) });
    }
  });
  reply({ ok: true, loaded: true });
}

function sessionSpecs(count: number, conns: number, prefix: string): ChannelSpec[][] {
  const per = Math.ceil(count / conns);
  return Array.from({ length: conns }, (_, c) =>
    Array.from({ length: Math.min(per, count - c * per) }, (_, k) => ({
      label: `${prefix}-${c}`,
      n: k + 1,
    })),
  ).filter((g) => g.length > 0);
}

/** SDK clients opening sessions; one that cannot open is left out of `sessions`. */
async function openMany(url: string, groups: ChannelSpec[][]) {
  const clients: RequesterClient[] = [];
  const sessions: Session[] = [];
  const batch = 50;
  for (let i = 0; i < groups.length; i += batch) {
    await Promise.all(
      groups.slice(i, i + batch).map(async (g) => {
        const client = await connect({ key: keyOf(g[0]!.label), url });
        clients.push(client);
        for (const spec of g) {
          for (let attempt = 0; attempt < 20; attempt++) {
            try {
              sessions.push(
                await client.openSession({
                  channel: chanOf(spec),
                  mode: "second",
                  unitPrice: SECOND_PRICE,
                  tunnel: { kind: "proxy" },
                  prepayUnits: 1n,
                  timeoutMs: 60_000,
                }),
              );
              break;
            } catch (err) {
              // BUSY: asked again after the hint. Anything else is counted by its absence: the
              // teardown phase reports how many sessions it had.
              const hint = isRelayError(err, "BUSY") ? retryAfterOf(err.message) : null;
              if (hint === null) break;
              await sleep(hint);
            }
          }
        }
      }),
    );
    if (i % 200 === 0) log(`  opened ${sessions.length} sessions`);
  }
  return { clients, sessions };
}

/**
 * 10,000 sessions paying once per second, as the SDK pays in second mode (the first unit and one
 * ahead at OPEN, then every started second since READY and one ahead), over 1,000 raw
 * connections with proofs pre-signed before the phase: the provider is what is measured, not
 * the load generator's signing, which would otherwise take a core of the same two.
 */
async function sessionsPhase(url: string) {
  const specs = sessionSpecs(CFG.sessions, CFG.sessionConns, "sess");
  const all = specs.flat();
  // Enough for a session opened at once to pay until the last one opens (the node may answer
  // BUSY for up to the 60 s open deadline, and each new OPEN takes a proof) and the hold ends.
  const perSession = CFG.sessionHoldSeconds + (QUICK ? 20 : 65);
  const tSign = performance.now();
  process.stderr.write(`[bench:relay]   pre-signing ${all.length * perSession} session proofs…\n`);
  const frames = await presign(
    all.map((spec) => ({
      label: spec.label,
      channelId: chanOf(spec).channelId,
      from: 1,
      count: perSession,
      unit: SECOND_PRICE,
      offset: 1,
    })),
  );
  const signMs = performance.now() - tSign;
  const n = all.length;
  const readyAt = new Float64Array(n).fill(-1);
  const lastAck = new Float64Array(n);
  const sent = new Int32Array(n);
  const acked = new Int32Array(n);
  const closed = new Uint8Array(n);
  const index = new Map<string, number>();
  const bySession = new Map<string, number>();
  const wires: { sendRaw(b: Buffer): void; close(): void }[] = [];
  const sendTo: ((b: Buffer) => void)[] = new Array(n);
  const closeOf: ((f: Frame) => void)[] = new Array(n);
  const reopen: (() => void)[] = new Array(n);
  let busyAnswers = 0;
  let maxGap = 0;
  let ready = 0;
  let failed = 0;
  const onFrame = (f: Frame) => {
    const now = performance.now();
    if (f.type === "ACK") {
      const i = index.get(f.channelId)!;
      const a = Number(f.nonce);
      if (a > acked[i]!) {
        if (readyAt[i]! >= 0) maxGap = Math.max(maxGap, now - lastAck[i]!);
        acked[i] = a;
        lastAck[i] = now;
      }
    } else if (f.type === "READY") {
      const i = index.get(f.channelId)!;
      readyAt[i] = now;
      lastAck[i] = now;
      bySession.set(f.sessionId, i);
      ready++;
    } else if (f.type === "CLOSE") {
      const i = bySession.get(f.sessionId);
      if (i !== undefined) closed[i] = 1;
    } else if (f.type === "ERROR") {
      const i = f.ref === null ? undefined : index.get(f.ref);
      const later = f.code === "BUSY" || f.code === "DIRECTORY_BUSY";
      if (i !== undefined && later && readyAt[i]! < 0 && !closed[i]) {
        // Not now: asked again after the node's hint (DIRECTORY_BUSY: the node's channel
        // lookups are all in use, and it gives none), with the next proof (the first one
        // reached no channel).
        busyAnswers++;
        setTimeout(() => reopen[i]!(), retryAfterOf(f.message) ?? 1_000);
        return;
      }
      // Before READY an ERROR about the channel is the session's refusal. (After a BUSY the
      // first proof's CHANNEL_UNKNOWN is part of that answer.)
      if (i !== undefined && readyAt[i]! < 0 && !closed[i] && f.code !== "CHANNEL_UNKNOWN") {
        closed[i] = 1;
        failed++;
      }
    }
  };
  // Every started second since READY, one ahead: nonce s pays s + 1 seconds. Sessions pay from
  // their READY on, while later connections are still being opened, as SDK clients would.
  const pay = () => {
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      if (readyAt[i]! < 0 || closed[i]) continue;
      const due = Math.min(perSession, Math.floor((now - readyAt[i]!) / 1000) + 1);
      if (due > sent[i]!) {
        sendTo[i]!(frames[i]!.frame(due - 1));
        sent[i] = due;
      }
    }
  };
  const payer = setInterval(pay, 20);
  const t0 = performance.now();
  // Each session's index is its place in `all`, the order its proofs were signed in.
  const firstOf: number[] = [];
  specs.reduce((first, group) => {
    firstOf.push(first);
    return first + group.length;
  }, 0);
  for (let g = 0; g < specs.length; g += 100) {
    await Promise.all(
      specs.slice(g, g + 100).map(async (group, j) => {
        const wire = await openWireConnection({
          url,
          signer: createSigner(keyOf(group[0]!.label)),
        });
        wire.onFrame = onFrame;
        wires.push(wire);
        for (const [m, spec] of group.entries()) {
          const i = firstOf[g + j]! + m;
          const c = chanOf(spec);
          index.set(c.channelId, i);
          sendTo[i] = (b) => wire.sendRaw(b);
          closeOf[i] = (f) => wire.send(f);
          reopen[i] = () => {
            if (sent[i]! >= perSession) return;
            wire.send(openFrame(spec, "second", SECOND_PRICE));
            wire.sendRaw(frames[i]!.frame(sent[i]!));
            sent[i] = sent[i]! + 1;
          };
          wire.send(openFrame(spec, "second", SECOND_PRICE));
          wire.sendRaw(frames[i]!.frame(0));
          sent[i] = 1;
        }
      }),
    );
  }
  const openDeadline = performance.now() + 60_000;
  while (ready + failed < n && performance.now() < openDeadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const openMs = performance.now() - t0;
  process.send!({ progress: "open", sessions: ready });
  await new Promise((r) => setTimeout(r, CFG.sessionHoldSeconds * 1000));
  clearInterval(payer);
  const now = performance.now();
  let held = 0;
  let behind = 0;
  for (let i = 0; i < n; i++) {
    if (readyAt[i]! < 0 || closed[i]) continue;
    held++;
    maxGap = Math.max(maxGap, now - lastAck[i]!);
    // Behind: the provider has not acknowledged what the session sent a second ago.
    if (sent[i]! - acked[i]! >= 2) behind++;
  }
  // End every session as the SDK's close does, so that none outlives the phase.
  for (const [sessionId, i] of bySession) {
    if (!closed[i])
      closeOf[i]!({ type: "CLOSE", sessionId, code: "CLOSED_BY_PEER", reason: "done" });
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const w of wires) w.close();
  return {
    ok: true,
    opened: ready,
    failed,
    busyAnswers,
    held,
    behind,
    maxAckGapMs: maxGap,
    openMs,
    signMs,
  };
}

async function teardownPhase(url: string) {
  const groups = sessionSpecs(CFG.teardownSessions, Math.ceil(CFG.teardownSessions / 10), "td");
  const { clients, sessions } = await openMany(url, groups);
  await new Promise((r) => setTimeout(r, 2_500));
  for (const s of sessions) s.stopPaying();
  const ends = await Promise.all(sessions.map((s) => s.closed));
  for (const c of clients) await c.close();
  const codes: Record<string, number> = {};
  for (const e of ends) codes[e.code] = (codes[e.code] ?? 0) + 1;
  return { ok: true, sessions: sessions.length, codes };
}

// ---------------------------------------------------------------------------------------------
// provider process

function gcNow(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "tollway-bench-relay-"));
  // The node finds channels on the in-memory chain, as it would on a real one: every OPEN's
  // reference is resolved there (a map lookup, no scan).
  const chain = new MemoryChain({ domain });
  const register = (spec: ChannelSpec) => {
    const requester = createSigner(keyOf(spec.label)).address;
    chain.mint(requester, DEPOSIT);
    const { channelId, ref } = chain.execute(requester, {
      type: "ChainSendOpen",
      partner: providerAddress,
      amount: DEPOSIT,
      settleWindow: 600,
    });
    channelTable.set(specKey(spec), { channelId, ref });
  };
  register({ label: "single", n: 1 });
  for (let i = 0; i < CFG.aggConns; i++) register({ label: `agg-${i}`, n: 1 });
  for (const g of sessionSpecs(CFG.sessions, CFG.sessionConns, "sess")) g.forEach(register);
  for (const g of sessionSpecs(CFG.teardownSessions, Math.ceil(CFG.teardownSessions / 10), "td")) {
    g.forEach(register);
  }
  const proxy = await createProxyDriver();
  const nodeOptions: ProviderNodeOptions = {
    key: providerKey,
    settlement: chain.backendFor(providerAddress),
    storeDir: dir,
    drivers: [proxy],
    pricing: {
      packet: { unitPrice: 1n, creditLimit: DEPOSIT, pollMs: 1_000 },
      second: {
        unitPrice: SECOND_PRICE,
        creditLimit: SECOND_CREDIT,
        graceMs: 1_000,
        openTimeoutMs: 60_000,
      },
    },
    // The load process is a thousand requesters from one address: the per-address cap on
    // sockets without a channel (which BUSY answers leave a connection at) and the OPEN budget
    // are for strangers on the internet, and are tested on their own.
    limits: {
      rate: { perSecond: 200_000, burst: 50_000 },
      authTimeoutMs: 60_000,
      upgradeTimeoutMs: 60_000,
      maxPerIp: 100_000,
      maxHandshakes: 100_000,
      openRate: { perSecond: 100_000, burst: 100_000 },
    },
  };
  const node = await createProviderNode(nodeOptions);
  const closedEvents: SessionClosedEvent[] = [];
  node.on("session-closed", (e) => closedEvents.push(e));

  const child = fork(new URL(import.meta.url), [...process.argv.slice(2)], {
    env: { ...process.env, TOLLWAY_BENCH_ROLE: "load" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const replies: ((m: Record<string, unknown>) => void)[] = [];
  child.on("message", (m: Record<string, unknown>) => {
    if ("progress" in m) return;
    replies.shift()?.(m);
  });
  const ask = (cmd: Cmd | null): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      replies.push((m) => (m.ok ? resolve(m) : reject(new Error(String(m.error)))));
      if (cmd !== null) child.send(cmd);
    });
  const killer = setTimeout(() => {
    log("time limit reached, stopping");
    child.kill("SIGKILL");
    process.exit(2);
  }, 300_000);
  killer.unref();

  await ask(null); // the load process is up
  log("pre-signing proofs in the load process…");
  const signed = await ask({
    phase: "presign",
    channels: [...channelTable].map(([key, c]) => [key, c.channelId, c.ref]),
  });
  log(`  ${signed.signed} proofs signed in ${Math.round(Number(signed.signMs))} ms`);

  log("phase 1: one channel, pipelined");
  const st0 = node.stats();
  const single = await ask({ phase: "single", url: node.url });
  const singleRate = Number(single.proofs) / (Number(single.ms) / 1000);
  const st1 = node.stats();
  log(
    `  ${Math.round(singleRate)} proofs/s (${st1.signaturesVerified - st0.signaturesVerified} signatures verified)`,
  );

  log(`phase 2: ${CFG.aggConns} connections, pipelined, guards on and off`);
  // A second node on a store of its own (the same proofs are fresh there), its own verify pool,
  // with the pipeline's guards off: the old path measured beside the new one, in two halves in
  // turn (off then on, on then off), so that neither gains from coming second.
  const offDir = mkdtempSync(join(tmpdir(), "tollway-bench-relay-off-"));
  const offNode = await createProviderNode({
    ...nodeOptions,
    storeDir: offDir,
    port: 0,
    proofPipeline: PIPELINE_GUARDS_OFF,
    admission: false,
  });
  const half = Math.floor(CFG.aggProofsPerConn / 2);
  const totals = { on: { proofs: 0, ms: 0 }, off: { proofs: 0, ms: 0 } };
  for (const [from, to, order] of [
    [2, half, ["off", "on"]],
    [half + 1, CFG.aggProofsPerConn, ["on", "off"]],
  ] as const) {
    for (const which of order) {
      const r = await ask({
        phase: which === "on" ? "aggregate" : "aggregate-off",
        url: which === "on" ? node.url : offNode.url,
        from,
        to,
      });
      totals[which].proofs += Number(r.proofs);
      totals[which].ms += Number(r.ms);
    }
  }
  await offNode.close();
  rmSync(offDir, { recursive: true, force: true });
  const aggOffRate = totals.off.proofs / (totals.off.ms / 1000);
  const aggRate = totals.on.proofs / (totals.on.ms / 1000);
  log(`  ${Math.round(aggOffRate)} proofs/s with the guards off`);
  const st2 = node.stats();
  log(
    `  ${Math.round(aggRate)} proofs/s (${st2.signaturesVerified - st1.signaturesVerified} signatures verified)`,
  );

  // Half load: half of the 20,000 proofs/s a node is specified for. The latency phase sends fresh
  // proofs round-robin, about one per channel per verification batch, so none is superseded and
  // every one is verified, persisted and acknowledged. Bounded by what is pre-signed.
  // The throughput phases leave the store compacting for a few seconds; latency is measured on
  // a node that has settled, as it would be between bursts.
  log("  letting the store settle after the throughput phases…");
  await new Promise((r) => setTimeout(r, QUICK ? 2_000 : 8_000));
  const sweep: { rate: number; p50Ms: number; p99Ms: number; maxMs: number }[] = [];
  for (const rate of SWEEP_RATES) {
    log(
      `phase 3: latency at ${rate} proofs/s${rate === HALF_LOAD_PROOFS_PER_SEC ? " (half load)" : ""}`,
    );
    const r = await ask({ phase: "latency", url: node.url, rate });
    log(`  p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms over ${r.timed} proofs`);
    sweep.push({ rate, p50Ms: Number(r.p50Ms), p99Ms: Number(r.p99Ms), maxMs: Number(r.maxMs) });
  }
  const lat = sweep.find((x) => x.rate === HALF_LOAD_PROOFS_PER_SEC)!;
  const rate = lat.rate;

  log(`phase 4: ${CFG.sessions} sessions paying once per second`);
  gcNow();
  const mem0 = process.memoryUsage();
  closedEvents.length = 0;
  const sessionsP = ask({ phase: "sessions", url: node.url });
  let memPeak = mem0;
  const memTimer = setInterval(() => {
    const m = process.memoryUsage();
    if (m.heapUsed > memPeak.heapUsed) memPeak = m;
    const s = node.stats();
    log(
      `  provider: ${s.sessions} sessions, ${s.proofsAccepted} proofs accepted, ${s.connections} connections`,
    );
  }, 3_000);
  child.on("message", (m: Record<string, unknown>) => {
    if (m.progress === "open") {
      gcNow();
      const m2 = process.memoryUsage();
      memPeak = m2;
    }
  });
  const sess = await sessionsP;
  clearInterval(memTimer);
  // Why sessions that were admitted ended before the phase did.
  const sessionsClosedCodes: Record<string, number> = {};
  for (const e of closedEvents) {
    sessionsClosedCodes[e.code] = (sessionsClosedCodes[e.code] ?? 0) + 1;
  }
  log(
    `  sessions ended: ${JSON.stringify(sessionsClosedCodes)}; admission ${JSON.stringify(node.stats().admission)}`,
  );
  const perSessionBytes = Math.round(
    (memPeak.heapUsed + memPeak.external - mem0.heapUsed - mem0.external) / Number(sess.opened),
  );
  const perSessionRss = Math.round((memPeak.rss - mem0.rss) / Number(sess.opened));
  log(
    `  held ${sess.held}/${CFG.sessions}, behind ${sess.behind}, max ACK gap ${Math.round(Number(sess.maxAckGapMs))} ms`,
  );

  log(`phase 5: teardown of ${CFG.teardownSessions} sessions that stop paying`);
  await new Promise((r) => setTimeout(r, 1_500));
  closedEvents.length = 0;
  const td = await ask({ phase: "teardown", url: node.url });
  const exhausted = closedEvents.filter((e) => e.code === "CREDIT_EXHAUSTED");
  const tdHist = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  let maxOver = 0n;
  for (const e of exhausted) {
    tdHist.recordValue(
      Math.max(1, Math.round((e.closedAt - (e.exhaustedAt ?? e.closedAt)) * 1000)),
    );
  }
  for (const e of closedEvents) {
    const over = e.maxUnpaid - e.creditLimit;
    if (over > maxOver) maxOver = over;
  }
  log(`  ${exhausted.length} torn down, p99 ${tdHist.getValueAtPercentile(99) / 1000} ms`);

  child.send({ phase: "exit" });
  child.kill();
  const stats = node.stats();
  await node.close();
  await proxy.close();
  rmSync(dir, { recursive: true, force: true });
  // The machine's own floors, in this run, for the ratios below: measured after the node has
  // closed, so that their allocations cannot shape how V8 treats the node's (ADR 5).
  log("measuring this machine's floors (verify, synced write, loopback)…");
  const floors = await measureFloors();
  log(
    `  ${floors.verifyPerSecPerCore} verifications/s on one core, synced write ${floors.syncedWriteMs} ms, loopback round trip ${floors.loopbackRttMs} ms`,
  );

  const cpus = (await import("node:os")).availableParallelism();
  const report = {
    bench: "relay",
    quick: QUICK,
    cpus,
    singleChannelProofsPerSec: Math.round(singleRate),
    aggregateProofsPerSec: Math.round(aggRate),
    aggregateConnections: CFG.aggConns,
    guardsOffProofsPerSec: Math.round(aggOffRate),
    guardsOnProofsPerSec: Math.round(aggRate),
    guardsCostPct: Math.round((1 - aggRate / aggOffRate) * 1000) / 10,
    latencyRateProofsPerSec: rate,
    ackP50Ms: Number(lat.p50Ms),
    ackP99Ms: Number(lat.p99Ms),
    ackMaxMs: Number(lat.maxMs),
    ackByRate: sweep,
    ackTimedSeconds: CFG.halfLoadSeconds,
    sessionsTarget: CFG.sessions,
    sessionsOpened: Number(sess.opened),
    sessionsHeld: Number(sess.held),
    sessionsBusyAnswers: Number(sess.busyAnswers),
    sessionsClosedCodes,
    sessionsBehind: Number(sess.behind),
    sessionConnections: CFG.sessionConns,
    maxAckGapMs: Math.round(Number(sess.maxAckGapMs)),
    sessionsOpenMs: Math.round(Number(sess.openMs)),
    memoryPerSessionBytes: perSessionBytes,
    rssPerSessionBytes: perSessionRss,
    teardownSessions: Number(td.sessions),
    teardownCodes: td.codes,
    teardownP50Ms: tdHist.getValueAtPercentile(50) / 1000,
    teardownP99Ms: tdHist.getValueAtPercentile(99) / 1000,
    maxExposureOverCredit: Number(maxOver),
    creditLimit: Number(SECOND_CREDIT),
    proofsReceived: stats.proofsReceived,
    proofsAccepted: stats.proofsAccepted,
    signaturesVerified: stats.signaturesVerified,
    proofsRejected: stats.proofsRejected,
    errorsByCode: stats.errorsByCode,
    floors,
    // The figures as multiples of what bounds them on this machine: raw verifications on every
    // core for throughput, one synced write and one loopback round trip for an ACK.
    ratios: {
      singleChannelVsVerifyPerCore: ratio(singleRate, floors.verifyPerSecPerCore),
      aggregateVsVerifyAllCores: ratio(aggRate, floors.verifyPerSecPerCore * cpus),
      ackP50VsSyncedWrite: ratio(Number(lat.p50Ms), floors.syncedWriteMs),
      ackP50VsLoopbackRtt: ratio(Number(lat.p50Ms), floors.loopbackRttMs),
    },
    seconds: Math.round((performance.now() - started) / 1000),
  };
  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const t = new Table({ head: ["figure", "value", "target"] });
    t.push(
      ["one channel, pipelined (proofs/s)", report.singleChannelProofsPerSec, ">= 10,000"],
      [`aggregate, ${CFG.aggConns} conns (proofs/s)`, report.aggregateProofsPerSec, ">= 20,000"],
      [
        "aggregate with the guards off / cost of the guards",
        `${report.guardsOffProofsPerSec} / ${report.guardsCostPct} %`,
        "report",
      ],
      [
        `ACK p50 / p99 at ${rate}/s (ms)`,
        `${report.ackP50Ms} / ${report.ackP99Ms}`,
        "<= 2 / <= 10",
      ],
      ["sessions held", `${report.sessionsHeld} / ${CFG.sessions}`, "all"],
      ["sessions behind", report.sessionsBehind, "0"],
      ["memory per session (heap+external, B)", report.memoryPerSessionBytes, "report"],
      [
        "teardown p50 / p99 (ms)",
        `${report.teardownP50Ms} / ${report.teardownP99Ms}`,
        "p99 <= 1,000",
      ],
      ["max exposure over credit", report.maxExposureOverCredit, "0"],
      [
        "floors: verify/s per core, synced write, loopback RTT",
        `${floors.verifyPerSecPerCore} / ${floors.syncedWriteMs} ms / ${floors.loopbackRttMs} ms`,
        "this machine",
      ],
      ["aggregate / (verify per core x cores)", report.ratios.aggregateVsVerifyAllCores, "report"],
      [
        "ACK p50 / synced write, / loopback RTT",
        `${report.ratios.ackP50VsSyncedWrite} / ${report.ratios.ackP50VsLoopbackRtt}`,
        "report",
      ],
    );
    process.stdout.write(`${t.toString()}\n${latencyPlot(sweep)}\n`);
  }
  process.exit(0);
}

/** Proof-to-ACK latency against the offered rate, as bars (one character per millisecond). */
function latencyPlot(sweep: readonly { rate: number; p50Ms: number; p99Ms: number }[]): string {
  const lines = ["proof-to-ACK latency by offered load (= p50, - up to p99, | the 10 ms target):"];
  for (const s of sweep) {
    const p50 = Math.round(s.p50Ms);
    const p99 = Math.max(p50, Math.round(s.p99Ms));
    const bar = `${"=".repeat(p50)}${"-".repeat(p99 - p50)}`.padEnd(10, " ");
    const marked = `${bar.slice(0, 10)}|${bar.slice(10)}`;
    lines.push(`${String(s.rate).padStart(6)}/s ${marked} ${s.p50Ms} / ${s.p99Ms} ms`);
  }
  return lines.join("\n");
}

if (!isMainThread) signerWorker();
else if (process.env.TOLLWAY_BENCH_ROLE === "load") {
  process.on("message", (m: { phase?: string }) => {
    if (m.phase === "exit") process.exit(0);
  });
  process.on("disconnect", () => process.exit(0));
  void loadMain();
} else {
  main().catch((err) => {
    log(String(err?.stack ?? err));
    process.exit(1);
  });
}
