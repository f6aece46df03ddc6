/**
 * The provider's proof pipeline (the hot path): every PAY is prechecked against the channel's
 * state (cheap, synchronous) and queued in its connection's lane (fair-queue.ts); lanes are
 * drained round robin into bounded verify batches; per channel only the best proof of a batch is
 * verified in the `VerifyPool` (the rest are superseded by it when it is valid, and go back to
 * the front of their lane for the next batch when it is forged); verdicts are applied in the
 * order of the batches through the channel transition, the new state goes to the store's group
 * commit, and the ACK leaves only once that batch is durable. So per channel proofs are applied
 * in order, and ACKs follow durability.
 *
 * Against floods: a proof that passes the precheck but not its signature costs a verification,
 * so that is what is bounded: at most one per channel per batch. Lanes are bounded per
 * connection and in total (a proof past a bound is dropped with ERROR PROOF_QUEUE_FULL, reported
 * at most every 250 ms per connection; proofs are cumulative, so the next one covers it); each
 * connection gets an equal share of each batch, so a flooding one delays another's proofs by a
 * batch or two, not by its backlog; and a connection whose proofs keep failing verification gets
 * ERROR TOO_MANY_INVALID_PROOFS and is closed, its queued proofs dropped.
 *
 * The pipeline knows connections and channel entries only as opaque keys; it talks straight to
 * the parts that own them (`PipelineParts`): the channel table, the peers' sockets, and the
 * sessions that a durable payment goes to. Which proof of a batch is verified is the channel
 * core's rule (`batchWinners`).
 */
import {
  type BatchWinners,
  batchWinners,
  type ChannelDomain,
  type ChannelId,
  type ChannelState,
  type ChannelStore,
  precheckReceivedProof,
  type TransitionContext,
  transition,
  type VerifyPool,
} from "../../channels/index.ts";
import { closeCodeOf, type RelayErrorCode } from "../errors.ts";
import type { PayFrame } from "../wire/frames.ts";
import { type FairBatch, FairQueue } from "./fair-queue.ts";
import { LoadMeter } from "./load-meter.ts";
import { type RateLimit, TokenBucket } from "./rate-limiter.ts";

/** Bounds of the proof pipeline (defaults in `DEFAULT_PIPELINE_LIMITS`). */
export interface ProofPipelineLimits {
  /** Proofs one connection may have waiting for a verify batch. */
  readonly maxQueuedPerConnection: number;
  /** Proofs all connections may have waiting together... */
  readonly maxQueued: number;
  /** ...except that a connection with fewer than this waiting may always queue one more. */
  readonly reservedPerConnection: number;
  /**
   * Proofs in one verify batch, shared equally among the connections with proofs waiting. A
   * batch costs one verification per channel in it, so a large cap keeps what supersession
   * saves, and still bounds how long a batch of many channels holds the next one back.
   */
  readonly maxBatchProofs: number;
  /**
   * Failed signature verifications a connection may have: a burst, refilled per second. Past it
   * the connection gets ERROR TOO_MANY_INVALID_PROOFS and is closed. Null: never closed.
   */
  readonly invalidProofs: RateLimit | null;
}

/** Pipeline defaults. */
export const DEFAULT_PIPELINE_LIMITS: ProofPipelineLimits = {
  maxQueuedPerConnection: 4_096,
  maxQueued: 65_536,
  reservedPerConnection: 16,
  maxBatchProofs: 4_096,
  invalidProofs: { perSecond: 1, burst: 16 },
};

/**
 * No bounds, one batch of everything waiting, no connection closed for invalid proofs: the
 * pipeline as it was before it had guards, to measure what they cost (benchmarks only). For
 * valid proofs this is the old path exactly; only forged ones are handled the new way.
 */
export const PIPELINE_GUARDS_OFF: ProofPipelineLimits = {
  maxQueuedPerConnection: Number.POSITIVE_INFINITY,
  maxQueued: Number.POSITIVE_INFINITY,
  reservedPerConnection: Number.POSITIVE_INFINITY,
  maxBatchProofs: Number.POSITIVE_INFINITY,
  invalidProofs: null,
};

/** What the pipeline needs of a channel entry: its state and what of it is durable. */
export interface PipelineChannel {
  state: ChannelState;
  durableNonce: bigint;
  durableTransferred: bigint;
}

/** The parts the pipeline works with. */
export interface PipelineParts<C, E extends PipelineChannel> {
  readonly domain: ChannelDomain;
  readonly pool: VerifyPool;
  readonly store: ChannelStore;
  /** The channel table: the entry `conn` may pay on (it owns the channel), or undefined. */
  readonly channels: { ownedBy(conn: C, channelId: ChannelId): E | undefined };
  /** The peers' sockets: ERROR frames (counted there), and cutting a connection off. */
  readonly peers: {
    error(conn: C, code: RelayErrorCode, message: string, ref: string | null): void;
    drop(conn: C, code: number, reason: string): void;
  };
  /** Where a newer durable payment of `entry` goes: its session, or an ACK. */
  readonly payments: { acknowledge(entry: E, nonce: bigint, transferred: bigint): void };
  /** A transition context (time, block, signer) for one batch. */
  ctx(): TransitionContext;
  /** A shell failure (verify pool, store) to report. */
  fail(err: unknown): void;
}

/** What the pipeline holds and has done against floods, for `stats()`. */
export interface PipelineStats {
  /** Proofs waiting for a verify batch now. */
  readonly queuedProofs: number;
  /** The most that ever waited at once. */
  readonly queuedProofsPeak: number;
  /** Connections with proofs waiting, and the longest of their queues. */
  readonly queuedConnections: number;
  readonly largestConnectionQueue: number;
  /** Verify batches in flight. */
  readonly batchesInFlight: number;
  /** Proofs dropped because a queue bound was reached (PROOF_QUEUE_FULL). */
  readonly proofsDropped: number;
  /** Connections closed with TOO_MANY_INVALID_PROOFS. */
  readonly connectionsCut: number;
}

/** What the pipeline remembers of a connection that misbehaved (made on its first offence). */
interface Offender {
  readonly invalid: TokenBucket | null;
  lastDropReport: number;
  cut: boolean;
}

/** Proof counters of the pipeline. */
export interface PipelineCounters {
  /** PAY frames received. */
  readonly proofsReceived: number;
  /** Proofs that became durable and were ACKed (superseded ones counted with their winner). */
  readonly proofsAccepted: number;
  readonly proofsRejected: number;
  /** Signatures actually verified. */
  readonly signaturesVerified: number;
}

type Batch<C, E> = FairBatch<C, PayFrame, E>;

type Verdicts = Awaited<ReturnType<VerifyPool["verifyCumulative"]>>;

/** The proof pipeline of one provider node. */
export class ProofPipeline<C extends object, E extends PipelineChannel> {
  readonly #parts: PipelineParts<C, E>;
  readonly #limits: ProofPipelineLimits;
  readonly #queue: FairQueue<C, PayFrame, E>;
  readonly #offenders = new WeakMap<C, Offender>();
  /** The load the node's admission reads. */
  readonly meter: LoadMeter;
  #flushScheduled = false;
  /** When the current turn's first proof was queued: every proof of the turn is dated by it. */
  #turnAt = 0;
  #verifying = 0;
  #proofsDropped = 0;
  #connectionsCut = 0;
  #tail: Promise<void> = Promise.resolve();
  readonly #counters = {
    proofsReceived: 0,
    proofsAccepted: 0,
    proofsRejected: 0,
    signaturesVerified: 0,
  };

  /**
   * @param parts - the parts it works with
   * @param limits - queue and batch bounds, the invalid-proof threshold
   * @param capacityPerSec - the verify pool's rate as first measured (see `measureVerifyRate`)
   */
  constructor(parts: PipelineParts<C, E>, limits: ProofPipelineLimits, capacityPerSec: number) {
    this.#parts = parts;
    this.#limits = limits;
    this.#queue = new FairQueue({
      perLane: limits.maxQueuedPerConnection,
      total: limits.maxQueued,
      reservedPerLane: limits.reservedPerConnection,
    });
    this.meter = new LoadMeter(parts.pool, capacityPerSec);
  }

  /** Queue lengths and what was done against floods. */
  stats(): PipelineStats {
    return {
      queuedProofs: this.#queue.size,
      queuedProofsPeak: this.#queue.peak,
      queuedConnections: this.#queue.activeLanes,
      largestConnectionQueue: this.#queue.largestLane(),
      batchesInFlight: this.#verifying,
      proofsDropped: this.#proofsDropped,
      connectionsCut: this.#connectionsCut,
    };
  }

  /** Proofs waiting now, and the total bound. */
  queued(): { queued: number; bound: number } {
    return { queued: this.#queue.size, bound: this.#limits.maxQueued };
  }

  /** The counters so far. */
  counters(): PipelineCounters {
    return { ...this.#counters };
  }

  /** Resolves once every batch handed to the verifier so far has been applied. */
  settled(): Promise<void> {
    return this.#tail;
  }

  /** Takes a PAY frame of an authenticated connection. */
  onPay(conn: C, frame: PayFrame): void {
    this.#counters.proofsReceived++;
    const entry = this.#parts.channels.ownedBy(conn, frame.channelId);
    if (entry === undefined) {
      this.#counters.proofsRejected++;
      this.#parts.peers.error(
        conn,
        "CHANNEL_UNKNOWN",
        "open a session on this channel first",
        frame.channelId,
      );
      return;
    }
    // Cheap rules first: a replayed, stale or overdrawn proof is refused before a signature
    // verification is spent on it. (A PAY frame carries the proof's fields as they are.)
    const pre = precheckReceivedProof(entry.state, frame, this.#parts.domain);
    if (pre !== null) {
      this.#counters.proofsRejected++;
      this.#parts.peers.error(conn, pre.code, pre.reason, frame.channelId);
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#turnAt = performance.now();
      setImmediate(() => this.#flush());
    }
    if (!this.#queue.push(conn, frame, entry, this.#turnAt)) this.#drop(conn, frame);
  }

  /** A proof past a queue bound: dropped, and said so once in a while. */
  #drop(conn: C, frame: PayFrame): void {
    this.#proofsDropped++;
    this.#counters.proofsRejected++;
    const o = this.#offender(conn);
    const now = performance.now();
    if (now - o.lastDropReport < 250) return;
    o.lastDropReport = now;
    this.#parts.peers.error(
      conn,
      "PROOF_QUEUE_FULL",
      "too many proofs waiting for verification; some were dropped",
      frame.channelId,
    );
  }

  #offender(conn: C): Offender {
    let o = this.#offenders.get(conn);
    if (o === undefined) {
      const limit = this.#limits.invalidProofs;
      o = {
        invalid: limit === null ? null : new TokenBucket(limit, performance.now()),
        lastDropReport: Number.NEGATIVE_INFINITY,
        cut: false,
      };
      this.#offenders.set(conn, o);
    }
    return o;
  }

  /** A proof of `conn` failed verification: past the threshold, `conn` is cut off. */
  #invalid(conn: C, code: RelayErrorCode, reason: string, ref: string): void {
    const o = this.#offender(conn);
    if (o.cut) return;
    this.#parts.peers.error(conn, code, reason, ref);
    if (o.invalid === null || o.invalid.take(performance.now())) return;
    o.cut = true;
    this.#connectionsCut++;
    this.#queue.drop(conn);
    const peers = this.#parts.peers;
    peers.error(
      conn,
      "TOO_MANY_INVALID_PROOFS",
      "too many proofs failed verification; closing",
      null,
    );
    peers.drop(conn, closeCodeOf("TOO_MANY_INVALID_PROOFS"), "too many invalid proofs");
  }

  #flush(): void {
    this.#flushScheduled = false;
    const pool = this.#parts.pool;
    // Adaptive batching: while the workers are busy, proofs gather, and the more gather the
    // more of them a newer proof of the same channel supersedes (never verified, never needed).
    if (this.#verifying >= Math.max(2, pool.threads) || this.#queue.size === 0) return;
    const batch = this.#queue.take(this.#limits.maxBatchProofs);
    this.#verifying++;
    const best = batchWinners(batch.a, batch.b);
    const domain = this.#parts.domain;
    const jobs = new Array(best.index.length);
    for (let k = 0; k < jobs.length; k++) {
      const i = best.index[k]!;
      const frame = batch.a[i]!;
      jobs[k] = {
        domain,
        proof: frame,
        signature: frame.signature,
        expectedSigner: batch.b[i]!.state.params.participantA,
      };
    }
    const verdicts = pool.verifyCumulative(jobs);
    const settled = verdicts.finally(() => {
      this.#verifying--;
      if (this.#queue.size > 0 && !this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
    // Handled below once the tail reaches it; mark it now so that an early failure is not
    // reported as unhandled.
    settled.catch(() => undefined);
    // Verification of later batches overlaps; their verdicts are applied strictly in order.
    this.#tail = this.#tail
      .then(() => settled)
      .then(
        (results) => this.#apply(batch, best, results),
        (err: unknown) => {
          this.#parts.fail(err);
          for (let i = 0; i < batch.a.length; i++) {
            this.#parts.peers.error(
              batch.keys[i]!,
              "INTERNAL",
              "verification failed",
              batch.a[i]!.channelId,
            );
          }
        },
      );
  }

  #apply(batch: Batch<C, E>, best: BatchWinners, results: Verdicts): void {
    const parts = this.#parts;
    const appliedAt = performance.now();
    this.meter.noteVerdicts(appliedAt - batch.oldestAt, appliedAt);
    const ctx = parts.ctx();
    let timed = false;
    let forged: Map<E, number> | null = null;
    for (let k = 0; k < results.length; k++) {
      const r = results[k]!;
      const i = best.index[k]!;
      const covered = best.count[k]! - 1;
      const conn = batch.keys[i]!;
      const frame = batch.a[i]!;
      const entry = batch.b[i]!;
      if (r.kind !== "checked") continue;
      this.#counters.signaturesVerified++;
      if (!r.check.ok) {
        this.#counters.proofsRejected++;
        this.#invalid(conn, r.check.code, r.check.reason, frame.channelId);
        if (covered > 0) {
          forged ??= new Map();
          forged.set(entry, i);
        }
        continue;
      }
      const before = entry.state;
      const signed = {
        proof: {
          channelId: frame.channelId,
          nonce: frame.nonce,
          transferred: frame.transferred,
        },
        signature: frame.signature,
      };
      const { state, effects } = transition(
        before,
        {
          type: "ReceiveBalanceProof",
          signed,
          domain: parts.domain,
          check: { ok: true, value: entry.state.params.participantA },
        },
        ctx,
      );
      const invalid = effects.find((e) => e.type === "InvalidReceivedBalanceProof");
      if (invalid !== undefined && invalid.type === "InvalidReceivedBalanceProof") {
        this.#counters.proofsRejected += 1 + covered;
        parts.peers.error(conn, invalid.code, invalid.reason, frame.channelId);
        continue;
      }
      entry.state = state;
      const { nonce, transferred } = signed.proof;
      // One commit per batch is timed: they share the store's group commit.
      const timeIt = !timed;
      timed = true;
      parts.store.persist(before, state).then(
        () => {
          if (timeIt) {
            const now = performance.now();
            this.meter.noteCommit(now - appliedAt, now);
          }
          this.#onDurable(entry, nonce, transferred, 1 + covered);
        },
        (err: unknown) => {
          parts.fail(err);
          parts.peers.error(
            conn,
            "STORE_WRITE_FAILED",
            "could not persist the proof",
            frame.channelId,
          );
        },
      );
    }
    if (forged !== null) this.#retry(batch, forged, appliedAt);
  }

  /**
   * A channel's best proof in the batch was forged: its other proofs go back to the front of
   * their lanes, so that the next batch verifies the best of them. One verification per channel
   * per batch, as for anyone, and a forgery cannot hide a valid proof.
   */
  #retry(batch: Batch<C, E>, forged: ReadonlyMap<E, number>, at: number): void {
    const back = new Map<C, { a: PayFrame[]; b: E[] }>();
    for (let i = 0; i < batch.a.length; i++) {
      const top = forged.get(batch.b[i]!);
      if (top === undefined || top === i) continue;
      const conn = batch.keys[i]!;
      if (this.#offenders.get(conn)?.cut === true) continue;
      let g = back.get(conn);
      if (g === undefined) {
        g = { a: [], b: [] };
        back.set(conn, g);
      }
      g.a.push(batch.a[i]!);
      g.b.push(batch.b[i]!);
    }
    for (const [conn, g] of back) {
      const lost = g.a.length - this.#queue.requeue(conn, g.a, g.b, at);
      this.#proofsDropped += lost;
      this.#counters.proofsRejected += lost;
    }
    if (this.#queue.size > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #onDurable(entry: E, nonce: bigint, transferred: bigint, proofs: number): void {
    this.#counters.proofsAccepted += proofs;
    if (nonce <= entry.durableNonce) return;
    entry.durableNonce = nonce;
    entry.durableTransferred = transferred;
    this.#parts.payments.acknowledge(entry, nonce, transferred);
  }
}
