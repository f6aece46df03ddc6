/**
 * A fast lane's lease (pure): the lane runs from `startedAt`; every started second costs
 * `pricePerSecond`; the ISP extends credit up to `creditLimit`. The lease ends when the first
 * second that `paid + creditLimit` cannot cover would start, so each payment moves it later.
 */

/** What an ISP node charges for a lane. */
export interface LeaseTerms {
  /** Price of each started second, token base units. */
  readonly pricePerSecond: bigint;
  /** What the ISP lets the requester owe. */
  readonly creditLimit: bigint;
}

/** Seconds that `paid + creditLimit` covers; null when the lane is free. */
export function coveredSeconds(paid: bigint, terms: LeaseTerms): bigint | null {
  if (terms.pricePerSecond <= 0n) return null;
  const budget = paid + terms.creditLimit;
  return budget <= 0n ? 0n : budget / terms.pricePerSecond;
}

/**
 * When the lease ends (ms on the caller's clock): the start of the first uncovered second.
 * @returns null for a free lane (no lease)
 */
export function leaseEnd(startedAt: number, paid: bigint, terms: LeaseTerms): number | null {
  const covered = coveredSeconds(paid, terms);
  return covered === null ? null : startedAt + Number(covered) * 1000;
}

/** What is owed after `now` (every started second, the first from `startedAt` on). */
export function owedAt(startedAt: number, now: number, terms: LeaseTerms): bigint {
  const seconds = now < startedAt ? 1 : Math.floor((now - startedAt) / 1000) + 1;
  return BigInt(seconds) * terms.pricePerSecond;
}
