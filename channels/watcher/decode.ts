/** Turns PaymentChannels logs into watcher inputs. */
import type { Interface, Log } from "ethers";
import { type Address, asChannelId } from "../types.ts";
import type { WatcherInput } from "./core.ts";

/** The watcher input a contract log stands for, or `undefined` for logs it does not follow. */
export function decodeChannelLog(
  iface: Interface,
  log: Pick<Log, "topics" | "data">,
): WatcherInput | undefined {
  const parsed = iface.parseLog({ topics: [...log.topics], data: log.data });
  if (!parsed) return undefined;
  const a = parsed.args;
  const channelId = asChannelId(a[0] as string);
  switch (parsed.name) {
    case "ChannelOpened":
      return {
        type: "ChainChannelOpened",
        channelId,
        a: a[1] as Address,
        b: a[2] as Address,
        deposit: a[5] as bigint,
      };
    case "Deposited":
      return { type: "ChainDeposited", channelId, forB: a[1] as boolean, total: a[2] as bigint };
    case "ChannelClosed":
      return {
        type: "ChainChannelClosed",
        channelId,
        closer: a[1] as Address,
        nonce: a[2] as bigint,
        transferred: a[3] as bigint,
        finalizesAt: Number(a[4]),
      };
    case "ProofUpdated":
      return {
        type: "ChainProofUpdated",
        channelId,
        ofB: a[1] as boolean,
        nonce: a[2] as bigint,
        transferred: a[3] as bigint,
      };
    case "ChannelSettled":
      return { type: "ChainChannelSettled", channelId };
    default:
      return undefined;
  }
}
