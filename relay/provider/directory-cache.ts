/**
 * A guard in front of a `ChannelDirectory`: an OPEN for a channel that does not exist would cost
 * a chain RPC each time, so "not open" answers are kept for a short while (a bounded map, the
 * oldest entry evicted first), a lookup of a channel already being looked up waits for that one
 * (and takes its "not open"), and no more than a fixed number run at once. Positive answers are
 * never kept: deposits must be fresh.
 */
import type { RelayResult } from "../errors.ts";
import type { ChannelDirectory, ChannelInfo, ChannelQuery } from "./channel-directory.ts";

/** Limits of a `cachedDirectory`. */
export interface DirectoryCacheLimits {
  /** How long a CHANNEL_UNKNOWN answer is reused, ms (default 2,000). */
  readonly negativeTtlMs: number;
  /** Most channel ids remembered as unknown (default 10,000). */
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

/** A cached directory, with its counters. */
export interface CachedDirectory extends ChannelDirectory {
  /** Channel ids remembered as unknown now (expired ones may still count until touched). */
  readonly negativeSize: number;
  /** Lookups running in the directory behind. */
  readonly inFlight: number;
}

type Answer = RelayResult<ChannelInfo>;

/**
 * Wraps `inner` with a negative cache, shared in-flight lookups and a concurrency cap.
 * @param clock - milliseconds, monotonic (the node's session clock)
 * @returns a directory whose `lookup` may also answer DIRECTORY_BUSY
 * @example const channels = cachedDirectory(chainDirectory(client), DEFAULT_DIRECTORY_CACHE_LIMITS, () => performance.now());
 */
export function cachedDirectory(
  inner: ChannelDirectory,
  limits: DirectoryCacheLimits,
  clock: () => number,
): CachedDirectory {
  // Insertion order is expiry order (one TTL for all), so the first entry is the one to go.
  const unknown = new Map<string, { readonly until: number; readonly answer: Answer }>();
  /** Lookups running, by channel id, with the query each was asked for. */
  const running = new Map<string, { readonly key: string; readonly answer: Promise<Answer> }>();

  function remember(channelId: string, answer: Answer): void {
    unknown.delete(channelId);
    while (unknown.size >= limits.negativeEntries && unknown.size > 0) {
      unknown.delete(unknown.keys().next().value!);
    }
    if (limits.negativeEntries > 0) {
      unknown.set(channelId, { until: clock() + limits.negativeTtlMs, answer });
    }
  }

  return {
    get negativeSize() {
      return unknown.size;
    },
    get inFlight() {
      return running.size;
    },
    async lookup(q: ChannelQuery): Promise<Answer> {
      const cached = unknown.get(q.channelId);
      if (cached !== undefined) {
        if (cached.until > clock()) return cached.answer;
        unknown.delete(q.channelId);
      }
      const key = `${q.requester.toLowerCase()}|${q.salt}|${q.openBlock}`;
      const same = running.get(q.channelId);
      if (same !== undefined) {
        // "Not open" holds for every query of the channel; anything else only for the same one.
        const a = await same.answer;
        if (same.key === key || (!a.ok && a.code === "CHANNEL_UNKNOWN")) return a;
        return this.lookup(q);
      }
      if (running.size >= limits.lookupsInFlight) {
        return Promise.resolve({
          ok: false,
          code: "DIRECTORY_BUSY",
          reason: "too many channel lookups at once; try again shortly",
        });
      }
      const answer = inner.lookup(q).then((a) => {
        if (!a.ok && a.code === "CHANNEL_UNKNOWN") remember(q.channelId, a);
        return a;
      });
      const entry = { key, answer };
      running.set(q.channelId, entry);
      try {
        return await answer;
      } finally {
        if (running.get(q.channelId) === entry) running.delete(q.channelId);
      }
    },
  };
}
