/** Rebuilds what an account's channels look like on chain from the settlement feed. */
import type { SettlementBackend } from "../settlement/backend.ts";
import type { Address } from "../types.ts";
import { initialWatcherState, type WatcherState, watcherTransition } from "./core.ts";

/**
 * Reads the feed from `fromBlock` to the head and applies it for `me`: open and closing channels
 * with their deposits and committed closing state, in the order they were opened.
 * @throws the backend's errors when it cannot reach its chain (for PaymentChannels, ChainError
 *   RPC_TIMEOUT, RPC_UNREACHABLE, RPC_BAD_RESPONSE past its retries).
 */
export async function readChannelHistory(
  settlement: SettlementBackend,
  me: Address,
  fromBlock: number,
): Promise<WatcherState> {
  const { block } = await settlement.now();
  let state = initialWatcherState(me, fromBlock - 1);
  for await (const event of settlement.events(fromBlock - 1, block)) {
    state = watcherTransition(state, event).state;
  }
  return state;
}
