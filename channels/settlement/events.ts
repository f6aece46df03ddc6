/**
 * The feed of chain events every settlement backend delivers, named as the cores take them
 * (`Chain*`). Each event says what one transaction did, in block order; `ChainBlock` marks how far
 * the feed has read, which is the cursor a consumer saves to resume from.
 */

import type { ProofPosition } from "../proof-order.ts";
import type { Address, ChannelId, Role } from "../types.ts";
import type { ChannelRef } from "./channel-ref.ts";

/** A channel was opened by `a` to `b`, with A's first deposit (possibly 0). */
export interface ChainChannelOpened {
  readonly type: "ChainChannelOpened";
  readonly channelId: ChannelId;
  /** The reference the wire carries for this channel. */
  readonly ref: ChannelRef;
  readonly a: Address;
  readonly b: Address;
  readonly depositA: bigint;
  /** Seconds a unilateral close waits before it can be settled. */
  readonly settleWindow: number;
}

/** A deposit was credited; `total` is the participant's new total (a replay changes nothing). */
export interface ChainDeposited {
  readonly type: "ChainDeposited";
  readonly channelId: ChannelId;
  readonly participant: Role;
  readonly total: bigint;
}

/**
 * `closer` closed the channel unilaterally with the best proof of its partner's transfers it had
 * (`proof`; nonce 0: none); the closer's own side starts empty. The window ends at `finalizesAt`.
 * With the deposits the consumer followed, this is the committed state (`committedAtClose`).
 */
export interface ChainChannelClosed {
  readonly type: "ChainChannelClosed";
  readonly channelId: ChannelId;
  readonly closer: Address;
  readonly proof: ProofPosition;
  /** Unix seconds: the first block time at which the channel can be settled. */
  readonly finalizesAt: number;
}

/** A better proof of `signer`'s transfers replaced the one the chain held, in the window. */
export interface ChainProofUpdated {
  readonly type: "ChainProofUpdated";
  readonly channelId: ChannelId;
  readonly signer: Role;
  readonly proof: ProofPosition;
}

/**
 * The channel was paid out and is gone: after its window, or at once by a cooperative close (a
 * consumer tells them apart by whether it saw the channel close first; payouts sum to the
 * deposits either way).
 */
export interface ChainChannelSettled {
  readonly type: "ChainChannelSettled";
  readonly channelId: ChannelId;
  readonly payoutA: bigint;
  readonly payoutB: bigint;
}

/** The feed has delivered every event up to and including `block`. */
export interface ChainBlock {
  readonly type: "ChainBlock";
  readonly block: number;
}

/** Every event of the feed. */
export type ChainEvent =
  | ChainChannelOpened
  | ChainDeposited
  | ChainChannelClosed
  | ChainProofUpdated
  | ChainChannelSettled
  | ChainBlock;
