/** A bound on how long a step may take: a protocol step, a peer's answer, a wait for the market. */

/**
 * `p`, or `timedOut()`'s error once `ms` pass. The late outcome of `p` is dropped: whoever
 * raced it has moved on.
 */
export function within<T>(p: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
