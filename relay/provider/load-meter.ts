/**
 * What a provider node measures of its own load, for admission: how busy the verify pool has
 * been over the last second and what it can verify at full load, how long proofs wait for their
 * verdicts, and how long the store's group commits take. Readings are taken per verify batch or
 * per OPEN, never per proof, and no timer runs.
 */
import type {
  ChannelDomain,
  ChannelId,
  PoolLoad,
  ProofSigner,
  VerifyPool,
} from "../../channels/index.ts";

/** The largest value noted over the last one to two windows. */
export class RecentMax {
  readonly #windowMs: number;
  #start = Number.NEGATIVE_INFINITY;
  #cur = 0;
  #prev = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  note(value: number, now: number): void {
    this.#roll(now);
    if (value > this.#cur) this.#cur = value;
  }

  value(now: number): number {
    this.#roll(now);
    return Math.max(this.#cur, this.#prev);
  }

  #roll(now: number): void {
    const age = now - this.#start;
    if (age < this.#windowMs) return;
    this.#prev = age < 2 * this.#windowMs ? this.#cur : 0;
    this.#cur = 0;
    this.#start = now;
  }
}

/** Events counted over the last one to two windows. */
export class RecentCount {
  readonly #windowMs: number;
  #start = Number.NEGATIVE_INFINITY;
  #cur = 0;
  #prev = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  add(now: number): void {
    this.#roll(now);
    this.#cur++;
  }

  value(now: number): number {
    this.#roll(now);
    return this.#cur + this.#prev;
  }

  #roll(now: number): void {
    const age = now - this.#start;
    if (age < this.#windowMs) return;
    this.#prev = age < 2 * this.#windowMs ? this.#cur : 0;
    this.#cur = 0;
    this.#start = now;
  }
}

/** One reading of the meter. */
export interface LoadReading {
  /** Share of the verify workers' time busy over the last second, 0–1. */
  readonly verifyUtilisation: number;
  /** Signatures the pool verifies per second when fully busy (measured). */
  readonly verifyCapacityPerSec: number;
  /** Longest wait of a proof for its verdict (arrival to verdict), ms, over the last second. */
  readonly verifyLatencyMs: number;
  /** Longest group commit of the store, ms, over the last second. */
  readonly commitMs: number;
}

interface Sample {
  readonly t: number;
  readonly busyMs: number;
  readonly jobsDone: number;
}

/** Samples of the pool at least this far apart. */
const SAMPLE_EVERY_MS = 250;
/** Utilisation is taken over about this long. */
const WINDOW_MS = 1_000;
/**
 * Below this utilisation, jobs per busy millisecond measure round trips more than the workers'
 * rate: the rate is measured only while the pool is this busy or more.
 */
const MIN_UTILISATION_FOR_RATE = 0.5;

/** Measures a node's load; see the module comment. */
export class LoadMeter {
  readonly #pool: VerifyPool;
  readonly #latency = new RecentMax(WINDOW_MS / 2);
  readonly #commit = new RecentMax(WINDOW_MS / 2);
  #samples: Sample[] = [];
  #utilisation = 0;
  #capacity: number;

  /** @param capacityPerSec - the pool's rate as first measured (see `measureVerifyRate`) */
  constructor(pool: VerifyPool, capacityPerSec: number) {
    this.#pool = pool;
    this.#capacity = capacityPerSec;
  }

  /** A verify batch's verdicts came `waitMs` after its oldest proof arrived. */
  noteVerdicts(waitMs: number, now: number): void {
    this.#latency.note(waitMs, now);
    this.#sample(now);
  }

  /** A group commit took `ms`. */
  noteCommit(ms: number, now: number): void {
    this.#commit.note(ms, now);
  }

  /** The load now. */
  reading(now: number): LoadReading {
    this.#sample(now);
    return {
      verifyUtilisation: this.#utilisation,
      verifyCapacityPerSec: this.#capacity,
      verifyLatencyMs: this.#latency.value(now),
      commitMs: this.#commit.value(now),
    };
  }

  #sample(now: number): void {
    const last = this.#samples[this.#samples.length - 1];
    if (last !== undefined && now - last.t < SAMPLE_EVERY_MS) return;
    const load = this.#pool.load();
    const first = this.#samples.find((s) => now - s.t <= WINDOW_MS + SAMPLE_EVERY_MS);
    if (first !== undefined) this.#update(first, load, now);
    this.#samples = this.#samples.filter((s) => now - s.t <= WINDOW_MS);
    this.#samples.push({ t: now, busyMs: load.busyMs, jobsDone: load.jobsDone });
  }

  #update(from: Sample, load: PoolLoad, now: number): void {
    const busy = load.busyMs - from.busyMs;
    this.#utilisation = Math.min(1, busy / ((now - from.t) * load.threads));
    if (this.#utilisation >= MIN_UTILISATION_FOR_RATE) {
      const rate = ((load.jobsDone - from.jobsDone) / busy) * load.threads * 1000;
      // Smoothed: one window of a busy main thread must not halve the node's capacity.
      this.#capacity = this.#capacity > 0 ? (this.#capacity + rate) / 2 : rate;
    }
  }
}

/**
 * Measures what the pool verifies per second: `jobs` proofs signed here, verified at once.
 * The round trip is counted in, so the figure is on the low side; the meter replaces it with
 * what it measures under load.
 */
export async function measureVerifyRate(
  pool: VerifyPool,
  signer: ProofSigner,
  domain: ChannelDomain,
  jobs = 64,
): Promise<number> {
  const batch = Array.from({ length: jobs }, (_, i) => {
    const proof = {
      channelId: `0x${(i + 1).toString(16).padStart(64, "0")}` as ChannelId,
      nonce: 1n,
      transferred: 1n,
    };
    return {
      domain,
      proof,
      signature: signer.signBalanceProof(domain, proof),
      expectedSigner: signer.address,
    };
  });
  const t = performance.now();
  await pool.verifyMany(batch);
  return jobs / (Math.max(0.1, performance.now() - t) / 1000);
}
