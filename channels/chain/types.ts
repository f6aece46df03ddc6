/** What the contract takes and reports about a channel. */
import type { Address, ChannelId } from "../types.ts";

/** Who is in a channel and when it opened; the contract derives the id from these. */
export interface ChannelParticipants {
  /** The opener. */
  readonly a: Address;
  readonly b: Address;
  readonly salt: bigint;
  readonly openBlock: bigint;
}

/** A channel as read from the contract's storage. */
export type OnChainChannel =
  | { readonly status: "none" }
  | {
      readonly status: "open";
      readonly settleWindow: number;
      readonly depositA: bigint;
      readonly depositB: bigint;
    }
  | { readonly status: "closing"; readonly finalizesAt: number };

/** The result of a mined transaction. */
export interface TxOutcome {
  readonly hash: string;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
}

/** A channel the client opened. */
export interface OpenedChannel extends TxOutcome {
  readonly channelId: ChannelId;
  readonly participants: ChannelParticipants;
}

/** The settle windows a deployment accepts at open, in seconds. */
export interface SettleWindowBounds {
  readonly minSeconds: number;
  readonly maxSeconds: number;
}

/** Where the chain is, and the time its next block will carry (Unix seconds). */
export interface ChainTime {
  readonly latestBlock: number;
  readonly latestTimestamp: number;
  /** Never earlier than `latestTimestamp`. */
  readonly nextTimestamp: number;
}
