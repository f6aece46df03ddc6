/** A token bucket per connection: frames beyond the rate are dropped with an ERROR. */

/** Frames per second and burst. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** A token bucket driven by the caller's clock (ms). */
export class TokenBucket {
  readonly #limit: RateLimit;
  #tokens: number;
  #at: number;

  constructor(limit: RateLimit, now: number) {
    this.#limit = limit;
    this.#tokens = limit.burst;
    this.#at = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(
        this.#limit.burst,
        this.#tokens + ((now - this.#at) * this.#limit.perSecond) / 1000,
      );
      this.#at = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
