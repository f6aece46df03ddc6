/** The terms a session runs under, and the metering arithmetic both sides share. */
import type { TunnelUsage } from "../tunnel/driver.ts";
import type { MeterMode } from "../wire/frames.ts";

/** What the provider's policy fixes for one session. */
export interface SessionTerms {
  readonly mode: MeterMode;
  /** Price per unit (started second, byte or packet), token base units. */
  readonly unitPrice: bigint;
  /** The most the provider is ever owed while the tunnel is up. */
  readonly creditLimit: bigint;
  /** Time from WARN to teardown, at most (second mode also stops before an unpaid second). */
  readonly graceMs: number;
  /** USAGE report interval. */
  readonly tickMs: number;
  /** Counter modes: how often counters are read. */
  readonly pollMs: number;
  /** Second mode: tear down this long before the first second beyond the credit would start. */
  readonly marginMs: number;
  /** A session not paid up to its first unit within this time is dropped. */
  readonly openTimeoutMs: number;
  /**
   * Open the tunnel at once, on credit, instead of after the first unit (fast-lane hops: a path
   * pays nobody until every hop's lane is up). Needs a credit limit of at least one unit.
   */
  readonly activateOnCredit?: boolean;
}

/** Units consumed according to tunnel counters (counter modes). */
export function unitsFromUsage(mode: MeterMode, usage: TunnelUsage): bigint {
  if (mode === "byte") return BigInt(usage.bytesIn + usage.bytesOut);
  if (mode === "packet") return BigInt(usage.packetsIn + usage.packetsOut);
  return 0n;
}

/**
 * Seconds started between `from` and `to` (ms): a session of any length is billed, so the
 * first second counts from its first instant.
 */
export function startedSeconds(from: number, to: number): bigint {
  if (to < from) return 1n;
  return BigInt(Math.floor((to - from) / 1000) + 1);
}

/** Units that `paid + creditLimit` covers (null: free, unlimited). */
export function coveredUnits(paid: bigint, creditLimit: bigint, unitPrice: bigint): bigint | null {
  if (unitPrice === 0n) return null;
  const budget = paid + creditLimit;
  return budget <= 0n ? 0n : budget / unitPrice;
}
