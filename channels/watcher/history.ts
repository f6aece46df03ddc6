/** Rebuilds what an account's channels look like on chain from the contract's events. */
import type { ChainClient } from "../chain/client.ts";
import type { Address } from "../types.ts";
import {
  initialWatcherState,
  type WatcherInput,
  type WatcherState,
  watcherTransition,
} from "./core.ts";
import { decodeChannelLog } from "./decode.ts";

/**
 * Reads the contract's logs from `fromBlock` to the head and applies them for `me`: open and
 * closing channels with their deposits and committed closing state.
 * @throws ChainError RPC_TIMEOUT, RPC_UNREACHABLE, RPC_BAD_RESPONSE when the RPC fails past its retries.
 */
export async function readChannelHistory(
  chain: ChainClient,
  me: Address,
  fromBlock: number,
  maxBlockRange = 2_000,
): Promise<WatcherState> {
  const head = await chain.blockNumber();
  let state = initialWatcherState(me, fromBlock - 1);
  const apply = (input: WatcherInput) => {
    state = watcherTransition(state, input).state;
  };
  for (let from = fromBlock; from <= head; from += maxBlockRange) {
    const to = Math.min(head, from + maxBlockRange - 1);
    const logs = await chain.channelLogs(from, to);
    for (const log of logs) {
      const input = decodeChannelLog(chain.contract.interface, log);
      if (input) apply(input);
    }
    apply({ type: "ChainBlock", block: to });
  }
  return state;
}
