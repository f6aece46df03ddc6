/**
 * A bound on concurrent name lookups. `dns.lookup` runs getaddrinfo on libuv's thread pool (four
 * threads by default), which the store's file I/O shares: a renter asking for names on a slow
 * DNS server must not be able to take every thread.
 */

/** Runs tasks at most `slots` at a time, in arrival order. */
export class LookupGate {
  #free: number;
  readonly #waiting = new Set<() => void>();

  /** @param slots how many tasks may run at once (at least 1). */
  constructor(slots: number) {
    this.#free = Math.max(1, Math.floor(slots));
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Runs `task` once a slot is free. Rejects with `signal.reason` as soon as the signal aborts,
   * waiting or running; a running task keeps its slot until it settles, since a getaddrinfo call
   * cannot be cancelled and goes on occupying its thread.
   */
  run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        this.#waiting.delete(start);
        reject(signal.reason);
      };
      const start = () => {
        this.#waiting.delete(start);
        this.#free--;
        const release = () => {
          signal.removeEventListener("abort", onAbort);
          this.#free++;
          const next = this.#waiting.values().next();
          if (!next.done) next.value();
        };
        Promise.resolve()
          .then(task)
          .then(
            (value) => {
              release();
              resolve(value);
            },
            (err: unknown) => {
              release();
              reject(err);
            },
          );
      };
      signal.addEventListener("abort", onAbort, { once: true });
      if (this.#free > 0) start();
      else this.#waiting.add(start);
    });
  }
}
