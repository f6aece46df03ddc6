/** Balance arithmetic and the proof order, shared by the channel core, the dispute machine and the backends. */
import type { ProofPosition } from "../settlement/payment-proof.ts";
import type { ChannelState, Role } from "./channel-state.ts";

/** Cumulative amount `role` has sent, as this node knows it. */
export function sentBy(state: ChannelState, role: Role): bigint {
  const proof = role === state.params.self ? state.sent : state.received;
  return proof?.proof.transferred ?? 0n;
}

/** `deposit` of a role. */
export function depositOf(state: ChannelState, role: Role): bigint {
  return role === "A" ? state.depositA : state.depositB;
}

/**
 * Off-chain balance of `role`: `deposit_X + sent_Y − sent_X` (may be computed negative for a
 * hypothetical proof; the state machine never lets a stored state have one).
 */
export function balanceOf(state: ChannelState, role: Role): bigint {
  const other: Role = role === "A" ? "B" : "A";
  return depositOf(state, role) + sentBy(state, other) - sentBy(state, role);
}

/**
 * The contract's payout rule at settle: `payoutA = clamp(depositA − sentA + sentB, 0, total)`,
 * `payoutB = total − payoutA`, so tokens are conserved whatever proofs were submitted.
 */
export function computePayouts(
  depositA: bigint,
  depositB: bigint,
  sentA: bigint,
  sentB: bigint,
): { payoutA: bigint; payoutB: bigint } {
  const total = depositA + depositB;
  let payoutA = depositA - sentA + sentB;
  if (payoutA < 0n) payoutA = 0n;
  if (payoutA > total) payoutA = total;
  return { payoutA, payoutB: total - payoutA };
}

/**
 * The one order on payment proofs of one signer (the contract's): higher `transferred` wins;
 * equal `transferred`, higher nonce wins. For proofs an honest receiver accepted this is nonce
 * order, and a signer cannot bury its partner's best proof under a high nonce with a low amount.
 * Any payment proof fits (a balance proof as it is). Returns > 0 when `a` beats `b`; null counts
 * as lowest.
 */
export function compareProofs(a: ProofPosition | null, b: ProofPosition | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (a.transferred !== b.transferred) return a.transferred > b.transferred ? 1 : -1;
  if (a.nonce !== b.nonce) return a.nonce > b.nonce ? 1 : -1;
  return 0;
}
