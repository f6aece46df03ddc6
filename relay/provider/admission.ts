/**
 * Admission: a node opens a new session only while it has the headroom to serve it, so that
 * the sessions already paying keep their ACK latency. Headroom is measured (see load-meter.ts):
 * the verify pool's utilisation over the last second plus what the sessions admitted within it
 * will add, how long proofs wait for their verdicts, how long group commits take, and how full
 * the proof queue is. Past any limit an OPEN is refused with ERROR `BUSY`, whose message starts
 * with a retry hint (`retry-after-ms=<ms>`; see `retryAfterOf`). Resumed sessions are not new
 * and are always taken back.
 */
import { type LoadReading, RecentCount } from "./load-meter.ts";

/** Limits of admission (the defaults in `DEFAULT_ADMISSION`). */
export interface AdmissionLimits {
  /** Highest verify load (utilisation plus the recent admissions' share) to admit at. */
  readonly maxVerifyLoad: number;
  /** Longest recent wait of a proof for its verdict, ms. */
  readonly maxVerifyLatencyMs: number;
  /** Longest recent group commit, ms. */
  readonly maxCommitMs: number;
  /** Largest share of the proof queue's total bound that may be in use. */
  readonly maxQueuedShare: number;
  /** The retry hint at the limit, ms; farther past it, up to five times as long. */
  readonly retryAfterMs: number;
  /**
   * Signatures a new session costs per second until the meter sees its payments (a
   * second-metered session pays once a second).
   */
  readonly sessionProofsPerSec: number;
}

/** Admission defaults. */
export const DEFAULT_ADMISSION: AdmissionLimits = {
  maxVerifyLoad: 0.9,
  maxVerifyLatencyMs: 250,
  maxCommitMs: 250,
  maxQueuedShare: 0.5,
  retryAfterMs: 1_000,
  sessionProofsPerSec: 1,
};

/** What admission decides on. */
export interface AdmissionInput extends LoadReading {
  /** Sessions admitted over the last second (their load is not measured yet). */
  readonly recentAdmissions: number;
  /** Proofs waiting for a verify batch, and the queue's total bound. */
  readonly queued: number;
  readonly queueBound: number;
}

/** Admit, or refuse with a retry hint and the reason. */
export type AdmissionDecision =
  | { readonly admit: true; readonly verifyLoad: number }
  | {
      readonly admit: false;
      readonly verifyLoad: number;
      readonly retryAfterMs: number;
      readonly reason: string;
    };

/** The verify load with one more session: utilisation plus the unmeasured sessions' share. */
export function verifyLoadOf(input: AdmissionInput, limits: AdmissionLimits): number {
  const capacity = Math.max(1, input.verifyCapacityPerSec);
  return (
    input.verifyUtilisation + ((input.recentAdmissions + 1) * limits.sessionProofsPerSec) / capacity
  );
}

/**
 * Decides one OPEN (pure): refused when any signal is past its limit; the retry hint grows
 * with how far past it is.
 */
export function decideAdmission(input: AdmissionInput, limits: AdmissionLimits): AdmissionDecision {
  const verifyLoad = verifyLoadOf(input, limits);
  const queuedShare = Number.isFinite(input.queueBound) ? input.queued / input.queueBound : 0;
  const over: [number, string][] = [
    [verifyLoad / limits.maxVerifyLoad, `verify load ${verifyLoad.toFixed(2)}`],
    [
      input.verifyLatencyMs / limits.maxVerifyLatencyMs,
      `verdicts take ${input.verifyLatencyMs} ms`,
    ],
    [input.commitMs / limits.maxCommitMs, `commits take ${input.commitMs} ms`],
    [queuedShare / limits.maxQueuedShare, `${input.queued} proofs queued`],
  ];
  let worst = over[0]!;
  for (const o of over) if (o[0] > worst[0]) worst = o;
  if (!(worst[0] > 1)) return { admit: true, verifyLoad };
  const factor = Number.isFinite(worst[0]) ? Math.min(5, worst[0]) : 5;
  return {
    admit: false,
    verifyLoad,
    retryAfterMs: Math.round(limits.retryAfterMs * factor),
    reason: worst[1],
  };
}

/** The message of a BUSY error: the retry hint first, then the reason. */
export function busyMessage(retryAfterMs: number, reason: string): string {
  return `retry-after-ms=${retryAfterMs} provider at capacity: ${reason}`;
}

const RETRY_RE = /^retry-after-ms=(\d{1,7})(?:\s|$)/;

/**
 * The retry hint of a BUSY error's message, ms, or null when it has none.
 * @example
 * catch (err) { if (isRelayError(err, "BUSY")) await sleep(retryAfterOf(err.message) ?? 1000); }
 */
export function retryAfterOf(message: string): number | null {
  const m = RETRY_RE.exec(message);
  return m === null ? null : Number(m[1]);
}

/** Admission counters, for `stats()`. */
export interface AdmissionStats {
  /** OPENs refused with BUSY. */
  readonly refused: number;
  /** The last verify load computed (utilisation plus recent admissions' share). */
  readonly verifyLoad: number;
  readonly verifyUtilisation: number;
  readonly verifyCapacityPerSec: number;
  readonly verifyLatencyMs: number;
  readonly commitMs: number;
}

/** The shell of admission: reads the meter and the queue, counts what it admits. */
export class AdmissionControl {
  readonly #limits: AdmissionLimits;
  readonly #reading: (now: number) => LoadReading;
  readonly #queue: () => { queued: number; bound: number };
  readonly #admitted = new RecentCount(500);
  #refused = 0;
  #verifyLoad = 0;

  constructor(
    limits: AdmissionLimits,
    reading: (now: number) => LoadReading,
    queue: () => { queued: number; bound: number },
  ) {
    this.#limits = limits;
    this.#reading = reading;
    this.#queue = queue;
  }

  /** Decides a new session's OPEN; an admitted one counts against the next second's headroom. */
  check(now: number): AdmissionDecision {
    const q = this.#queue();
    const d = decideAdmission(
      {
        ...this.#reading(now),
        recentAdmissions: this.#admitted.value(now),
        queued: q.queued,
        queueBound: q.bound,
      },
      this.#limits,
    );
    this.#verifyLoad = d.verifyLoad;
    if (d.admit) this.#admitted.add(now);
    else this.#refused++;
    return d;
  }

  stats(now: number): AdmissionStats {
    const r = this.#reading(now);
    return { refused: this.#refused, verifyLoad: this.#verifyLoad, ...r };
  }
}
