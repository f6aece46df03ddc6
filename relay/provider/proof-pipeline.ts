/**
 * The provider's proof pipeline (the hot path): every PAY of one event-loop turn is prechecked
 * against the channel's state (cheap, synchronous), then verified in the `VerifyPool` as one
 * cumulative batch (per channel only the best proof is verified; the rest are superseded by it);
 * verdicts are applied in arrival order of the batches through the channel transition, the new
 * state goes to the store's group commit, and the ACK leaves only once that batch is durable.
 *
 * The pipeline knows connections and channel entries only as the node hands them over; the node
 * answers for sessions, ACK frames and sockets through `PipelineHost`.
 */
import type { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import type { ChannelState } from "../../channels/state/channel-state.ts";
import { type TransitionContext, transition } from "../../channels/state/transition.ts";
import { precheckReceivedProof } from "../../channels/state/validate.ts";
import type { ChannelStore } from "../../channels/store/channel-store.ts";
import type { ChannelDomain, ChannelId } from "../../channels/types.ts";
import type { RelayErrorCode } from "../errors.ts";
import type { PayFrame } from "../wire/frames.ts";

/** What the pipeline needs of a channel entry: its state and what of it is durable. */
export interface PipelineChannel {
  state: ChannelState;
  durableNonce: bigint;
  durableTransferred: bigint;
}

/** The node's side of the pipeline. */
export interface PipelineHost<C, E extends PipelineChannel> {
  readonly domain: ChannelDomain;
  readonly pool: VerifyPool;
  readonly store: ChannelStore;
  /** The channel entry `conn` may pay on (it owns the channel), or undefined. */
  channelOf(conn: C, channelId: ChannelId): E | undefined;
  /** A transition context (time, block, signer) for one batch. */
  ctx(): TransitionContext;
  /** Sends an ERROR frame to `conn` (counted by the node). */
  error(conn: C, code: RelayErrorCode, message: string, ref: string | null): void;
  /** A newer payment of `entry` is durable: tell its session, or ACK it. */
  acknowledge(entry: E, nonce: bigint, transferred: bigint): void;
  /** A shell failure (verify pool, store) to report. */
  fail(err: unknown): void;
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

interface PendingPay<C, E> {
  readonly conn: C;
  readonly entry: E;
  readonly frame: PayFrame;
}

type Verdicts = Awaited<ReturnType<VerifyPool["verifyCumulative"]>>;

/** The proof pipeline of one provider node. */
export class ProofPipeline<C, E extends PipelineChannel> {
  readonly #host: PipelineHost<C, E>;
  #pending: PendingPay<C, E>[] = [];
  #flushScheduled = false;
  #verifying = 0;
  #tail: Promise<void> = Promise.resolve();
  readonly #counters = {
    proofsReceived: 0,
    proofsAccepted: 0,
    proofsRejected: 0,
    signaturesVerified: 0,
  };

  constructor(host: PipelineHost<C, E>) {
    this.#host = host;
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
    const entry = this.#host.channelOf(conn, frame.channelId);
    if (entry === undefined) {
      this.#counters.proofsRejected++;
      this.#host.error(
        conn,
        "CHANNEL_UNKNOWN",
        "open a session on this channel first",
        frame.channelId,
      );
      return;
    }
    // Cheap rules first: a replayed, stale or overdrawn proof is refused before a signature
    // verification is spent on it. (A PAY frame carries the proof's fields as they are.)
    const pre = precheckReceivedProof(entry.state, frame, this.#host.domain);
    if (pre !== null) {
      this.#counters.proofsRejected++;
      this.#host.error(conn, pre.code, pre.reason, frame.channelId);
      return;
    }
    this.#pending.push({ conn, entry, frame });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const pool = this.#host.pool;
    // Adaptive batching: while the workers are busy, proofs gather, and the more gather the
    // more of them a newer proof of the same channel supersedes (never verified, never needed).
    if (this.#verifying >= Math.max(2, pool.threads) || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#verifying++;
    const domain = this.#host.domain;
    const verdicts = pool.verifyCumulative(
      batch.map((p) => ({
        domain,
        proof: p.frame,
        signature: p.frame.signature,
        expectedSigner: p.entry.state.params.participantA,
      })),
    );
    const settled = verdicts.finally(() => {
      this.#verifying--;
      if (this.#pending.length > 0 && !this.#flushScheduled) {
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
        (results) => this.#apply(batch, results),
        (err: unknown) => {
          this.#host.fail(err);
          for (const p of batch) {
            this.#host.error(p.conn, "INTERNAL", "verification failed", p.frame.channelId);
          }
        },
      );
  }

  #apply(batch: readonly PendingPay<C, E>[], results: Verdicts): void {
    const host = this.#host;
    // Per channel: the best verified proof (the others are superseded by it or rejected).
    const best = new Map<E, { p: PendingPay<C, E>; covered: number }>();
    results.forEach((r, i) => {
      const p = batch[i]!;
      if (r.kind === "superseded") return;
      this.#counters.signaturesVerified++;
      if (!r.check.ok) {
        this.#counters.proofsRejected++;
        host.error(p.conn, r.check.code, r.check.reason, p.frame.channelId);
        return;
      }
      const cur = best.get(p.entry);
      if (cur === undefined || rank(p.frame, cur.p.frame) > 0) best.set(p.entry, { p, covered: 0 });
    });
    results.forEach((r, i) => {
      if (r.kind !== "superseded") return;
      const b = best.get(batch[i]!.entry);
      if (b !== undefined) b.covered++;
    });
    const ctx = host.ctx();
    for (const [entry, { p, covered }] of best) {
      const before = entry.state;
      const signed = {
        proof: {
          channelId: p.frame.channelId,
          nonce: p.frame.nonce,
          transferred: p.frame.transferred,
        },
        signature: p.frame.signature,
      };
      const { state, effects } = transition(
        before,
        {
          type: "ReceiveBalanceProof",
          signed,
          domain: host.domain,
          check: { ok: true, signer: entry.state.params.participantA },
        },
        ctx,
      );
      const invalid = effects.find((e) => e.type === "InvalidReceivedBalanceProof");
      if (invalid !== undefined && invalid.type === "InvalidReceivedBalanceProof") {
        this.#counters.proofsRejected += 1 + covered;
        host.error(p.conn, invalid.code, invalid.reason, p.frame.channelId);
        continue;
      }
      entry.state = state;
      const { nonce, transferred } = signed.proof;
      host.store.persist(before, state).then(
        () => this.#onDurable(entry, nonce, transferred, 1 + covered),
        (err: unknown) => {
          host.fail(err);
          host.error(
            p.conn,
            "STORE_WRITE_FAILED",
            "could not persist the proof",
            p.frame.channelId,
          );
        },
      );
    }
  }

  #onDurable(entry: E, nonce: bigint, transferred: bigint, proofs: number): void {
    this.#counters.proofsAccepted += proofs;
    if (nonce <= entry.durableNonce) return;
    entry.durableNonce = nonce;
    entry.durableTransferred = transferred;
    this.#host.acknowledge(entry, nonce, transferred);
  }
}

/** > 0 when proof a ranks above b (the contract's order: transferred, then nonce). */
export function rank(a: PayFrame, b: PayFrame): number {
  if (a.transferred !== b.transferred) return a.transferred > b.transferred ? 1 : -1;
  if (a.nonce !== b.nonce) return a.nonce > b.nonce ? 1 : -1;
  return 0;
}
