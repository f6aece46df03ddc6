/** Rebuilds what an account's channels look like on chain from the settlement feed. */
import { ChainClient } from "../chain/client.ts";
import type { SettlementBackend } from "../settlement/backend.ts";
import { paymentChannelsSettlement } from "../settlement/payment-channels/backend.ts";
import type { Address } from "../types.ts";
import { initialWatcherState, type WatcherState, watcherTransition } from "./core.ts";

/**
 * Reads the feed from `fromBlock` to the head and applies it for `me`: open and closing channels
 * with their deposits and committed closing state. A `ChainClient` is read through the
 * PaymentChannels backend (the form relay/ and engine/ still pass).
 * @throws ChainError RPC_TIMEOUT, RPC_UNREACHABLE, RPC_BAD_RESPONSE when the RPC fails past its retries.
 */
export async function readChannelHistory(
  source: SettlementBackend | ChainClient,
  me: Address,
  fromBlock: number,
  maxBlockRange = 2_000,
): Promise<WatcherState> {
  const settlement =
    source instanceof ChainClient
      ? paymentChannelsSettlement(source, { fromBlock, maxBlockRange })
      : source;
  const { block } = await settlement.now();
  let state = initialWatcherState(me, fromBlock - 1);
  for await (const event of settlement.events(fromBlock - 1, block)) {
    state = watcherTransition(state, event).state;
  }
  return state;
}
