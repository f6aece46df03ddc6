/**
 * Provider profiles: rating (from signed requester ratings, one per deal) and history (deals
 * completed, torn down early, failed, bytes delivered, seconds of service). Pure functions.
 */
import type { Address } from "../types.ts";

/** One provider's record. */
export interface Profile {
  readonly address: Address;
  readonly ratingCount: number;
  /** Sum of scores, 1–5 each. */
  readonly ratingSum: number;
  readonly dealsCompleted: number;
  readonly dealsTornDown: number;
  readonly dealsFailed: number;
  readonly bytesDelivered: number;
  /** Seconds of service across deals. */
  readonly uptimeS: number;
}

/** A provider nobody has dealt with. */
export function emptyProfile(address: Address): Profile {
  return {
    address,
    ratingCount: 0,
    ratingSum: 0,
    dealsCompleted: 0,
    dealsTornDown: 0,
    dealsFailed: 0,
    bytesDelivered: 0,
    uptimeS: 0,
  };
}

/** Average rating in milli-stars (1000–5000), or -1 when unrated. */
export function ratingMilli(p: Profile): number {
  return p.ratingCount === 0 ? -1 : Math.floor((p.ratingSum * 1000) / p.ratingCount);
}

/** Adds one rating (score 1–5). */
export function addRating(p: Profile, score: number): Profile {
  return { ...p, ratingCount: p.ratingCount + 1, ratingSum: p.ratingSum + score };
}

/** Adds the outcome of one deal. */
export function recordOutcome(
  p: Profile,
  outcome: "completed" | "torn-down" | "failed",
  bytes: number,
  uptimeS: number,
): Profile {
  return {
    ...p,
    dealsCompleted: p.dealsCompleted + (outcome === "completed" ? 1 : 0),
    dealsTornDown: p.dealsTornDown + (outcome === "torn-down" ? 1 : 0),
    dealsFailed: p.dealsFailed + (outcome === "failed" ? 1 : 0),
    bytesDelivered: p.bytesDelivered + bytes,
    uptimeS: p.uptimeS + uptimeS,
  };
}
