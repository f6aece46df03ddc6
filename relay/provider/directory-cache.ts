/**
 * A guard in front of the settlement backend's `resolve`: an OPEN for a channel that does not
 * exist would cost a chain RPC each time, so "not open" answers are kept for a short while (a
 * bounded map, the oldest entry evicted first), a lookup of a reference already being looked up
 * waits for that one and takes its answer, and no more than a fixed number run at once. Positive
 * answers are never kept: deposits must be fresh.
 */
import type { ChannelRef, ResolvedChannel, SettlementBackend } from "../../channels/index.ts";
import type { RelayResult } from "../errors.ts";

/** Limits of a `cachedDirectory`. */
export interface DirectoryCacheLimits {
  /** How long a CHANNEL_UNKNOWN answer is reused, ms (default 2,000). */
  readonly negativeTtlMs: number;
  /** Most references remembered as unknown (default 10,000). */
  readonly negativeEntries: number;
  /** Most lookups running at once; more are refused with DIRECTORY_BUSY (default 64). */
  readonly lookupsInFlight: number;
}

/** The defaults of `DirectoryCacheLimits`. */
export const DEFAULT_DIRECTORY_CACHE_LIMITS: DirectoryCacheLimits = {
  negativeTtlMs: 2_000,
  negativeEntries: 10_000,
  lookupsInFlight: 64,
};

/** Where the provider resolves the references OPEN frames carry: a settlement backend. */
export type ChannelResolver = Pick<SettlementBackend, "resolve">;

/** A cached directory of channels, with its counters. */
export interface CachedDirectory {
  /**
   * The open channel `ref` names.
   * @returns the channel (its participants are the caller's to check), or CHANNEL_UNKNOWN (no
   *   such open channel), CHANNEL_REF_INVALID (not a reference of this backend), DIRECTORY_BUSY
   * @throws what the backend throws when it cannot reach its chain
   */
  resolve(ref: ChannelRef): Promise<RelayResult<ResolvedChannel>>;
  /** References remembered as unknown now (expired ones may still count until touched). */
  readonly negativeSize: number;
  /** Lookups running in the backend behind. */
  readonly inFlight: number;
}

type Answer = RelayResult<ResolvedChannel>;

/**
 * Wraps `backend.resolve` with a negative cache, shared in-flight lookups and a concurrency cap.
 * @param clock - milliseconds, monotonic (the node's session clock)
 * @example const channels = cachedDirectory(settlement, DEFAULT_DIRECTORY_CACHE_LIMITS, () => performance.now());
 */
export function cachedDirectory(
  backend: ChannelResolver,
  limits: DirectoryCacheLimits,
  clock: () => number,
): CachedDirectory {
  // Insertion order is expiry order (one TTL for all), so the first entry is the one to go.
  const unknown = new Map<ChannelRef, { readonly until: number; readonly answer: Answer }>();
  /** Lookups running, by reference: a reference has one answer, whoever asks. */
  const running = new Map<ChannelRef, Promise<Answer>>();

  function remember(ref: ChannelRef, answer: Answer): void {
    unknown.delete(ref);
    while (unknown.size >= limits.negativeEntries && unknown.size > 0) {
      unknown.delete(unknown.keys().next().value!);
    }
    if (limits.negativeEntries > 0) {
      unknown.set(ref, { until: clock() + limits.negativeTtlMs, answer });
    }
  }

  async function ask(ref: ChannelRef): Promise<Answer> {
    const r = await backend.resolve(ref);
    if (r.ok) return r;
    const answer: Answer =
      r.code === "REF_INVALID"
        ? { ok: false, code: "CHANNEL_REF_INVALID", reason: r.reason }
        : { ok: false, code: "CHANNEL_UNKNOWN", reason: r.reason };
    if (answer.code === "CHANNEL_UNKNOWN") remember(ref, answer);
    return answer;
  }

  return {
    get negativeSize() {
      return unknown.size;
    },
    get inFlight() {
      return running.size;
    },
    async resolve(ref: ChannelRef): Promise<Answer> {
      const cached = unknown.get(ref);
      if (cached !== undefined) {
        if (cached.until > clock()) return cached.answer;
        unknown.delete(ref);
      }
      const same = running.get(ref);
      if (same !== undefined) return same;
      if (running.size >= limits.lookupsInFlight) {
        return {
          ok: false,
          code: "DIRECTORY_BUSY",
          reason: "too many channel lookups at once; try again shortly",
        };
      }
      const answer = ask(ref);
      running.set(ref, answer);
      try {
        return await answer;
      } finally {
        running.delete(ref);
      }
    },
  };
}
