/** Balance arithmetic of the channel core. */
import type { Role } from "../types.ts";
import type { ChannelState } from "./channel-state.ts";

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
