/** Turns PaymentChannels logs into the settlement feed's events (addresses as the node returns them). */
import type { Interface, Log } from "ethers";
import type { ChannelParticipants } from "../../chain/types.ts";
import { type Address, asChannelId } from "../../types.ts";
import type { ChainEvent } from "../events.ts";
import { encodeChannelRef } from "./channel-ref.ts";

/** A decoded log: the event, and the participants when it is an opening. */
export interface DecodedLog {
  readonly event: Exclude<ChainEvent, { type: "ChainBlock" }>;
  readonly participants?: ChannelParticipants;
}

/** The event a contract log stands for, or `undefined` for logs the feed does not carry. */
export function decodeChannelLog(
  iface: Interface,
  log: Pick<Log, "topics" | "data">,
): DecodedLog | undefined {
  const parsed = iface.parseLog({ topics: [...log.topics], data: log.data });
  if (!parsed) return undefined;
  const a = parsed.args;
  const channelId = asChannelId(a[0] as string);
  switch (parsed.name) {
    case "ChannelOpened": {
      const participants: ChannelParticipants = {
        a: a[1] as Address,
        b: a[2] as Address,
        salt: a[3] as bigint,
        openBlock: a[4] as bigint,
      };
      return {
        participants,
        event: {
          type: "ChainChannelOpened",
          channelId,
          ref: encodeChannelRef(participants),
          a: participants.a,
          b: participants.b,
          depositA: a[5] as bigint,
          settleWindow: Number(a[6]),
        },
      };
    }
    case "Deposited":
      return {
        event: {
          type: "ChainDeposited",
          channelId,
          participant: (a[1] as boolean) ? "B" : "A",
          total: a[2] as bigint,
        },
      };
    case "ChannelClosed":
      return {
        event: {
          type: "ChainChannelClosed",
          channelId,
          closer: a[1] as Address,
          proof: { nonce: a[2] as bigint, transferred: a[3] as bigint },
          finalizesAt: Number(a[4]),
        },
      };
    case "ProofUpdated":
      return {
        event: {
          type: "ChainProofUpdated",
          channelId,
          signer: (a[1] as boolean) ? "B" : "A",
          proof: { nonce: a[2] as bigint, transferred: a[3] as bigint },
        },
      };
    case "ChannelSettled":
      return {
        event: {
          type: "ChainChannelSettled",
          channelId,
          payoutA: a[1] as bigint,
          payoutB: a[2] as bigint,
        },
      };
    default:
      return undefined;
  }
}
