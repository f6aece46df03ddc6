/**
 * Deposits as the chain reports them, brought into a channel's state. Both ends of a channel read
 * them before a session (top-ups happen on chain at any time) and run them through the channel
 * transition, so the transition's rules (an open channel only, totals never lowered) hold here.
 */

import type { ChannelState } from "./channel-state.ts";
import type { ChannelEffect } from "./effects.ts";
import { type TransitionContext, type TransitionResult, transition } from "./transition.ts";

/** Each participant's total deposit, as read from the chain. */
export interface ChainDeposits {
  readonly depositA: bigint;
  readonly depositB: bigint;
}

/**
 * Brings a channel's deposits up to the chain's totals: a channel still `opening` is opened, and
 * each participant's deposit is raised to its total. A total at or below the one held (a stale
 * or repeated read) changes nothing, so deposits never decrease; proofs are untouched, so no
 * token moves between the participants. A channel no longer open keeps its deposits (the
 * transition refuses the read, which the effects say).
 * @returns the new state (`state` itself when nothing changed) and the transition's effects
 * @example
 * const { state: next } = syncDeposits(state, { depositA: info.depositA, depositB: 0n }, ctx);
 */
export function syncDeposits(
  state: ChannelState,
  deposits: ChainDeposits,
  ctx: TransitionContext,
): TransitionResult {
  const channelId = state.params.channelId;
  const effects: ChannelEffect[] = [];
  let s = state;
  for (const input of [
    { type: "ChainChannelOpened", channelId, depositA: deposits.depositA },
    { type: "ChainDeposited", channelId, participant: "A", total: deposits.depositA },
    { type: "ChainDeposited", channelId, participant: "B", total: deposits.depositB },
  ] as const) {
    const r = transition(s, input, ctx);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}
