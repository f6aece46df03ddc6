/**
 * The settlement interface: what the cores and their shells need of a chain, whatever contract
 * settles the channels (go-nitro's `ChainService` is the model). A backend delivers a feed of
 * chain events from a cursor the consumer keeps, carries out the `ChainSend*` effects, reads a
 * channel, resolves the opaque references the wire carries, and says what time the chain's next
 * block will carry.
 */
import type { Address, ChannelDomain, ChannelId, CommittedState } from "../types.ts";
import type { ChannelRef } from "./channel-ref.ts";
import type { SettlementEffect } from "./effects.ts";
import type { SettlementResult } from "./errors.ts";
import type { ChainEvent } from "./events.ts";

/** Where the chain is. */
export interface ChainNow {
  /** The latest block: the feed can be read up to here. */
  readonly block: number;
  /**
   * The time (Unix seconds) the next block will carry: the block that would carry an update or a
   * settle. Not the latest block's: a chain that mines only on transactions keeps its latest
   * timestamp while time goes on, and a window would never end.
   */
  readonly time: number;
}

/** A transaction the backend carried out. */
export interface SettlementTx {
  readonly hash: string;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
}

/** What `send(ChainSendOpen)` returns: the new channel's id and reference. */
export interface OpenedChannelTx extends SettlementTx {
  readonly channelId: ChannelId;
  readonly ref: ChannelRef;
}

/** What `send(ChainSendClose)` returns: when the window ends. */
export interface ClosedChannelTx extends SettlementTx {
  readonly finalizesAt: number;
}

/** The outcome of `send` for each effect type. */
export interface SendOutcomes {
  readonly ChainSendOpen: OpenedChannelTx;
  readonly ChainSendDeposit: SettlementTx;
  readonly ChainSendCooperativeClose: SettlementTx;
  readonly ChainSendClose: ClosedChannelTx;
  readonly ChainSendUpdateProof: SettlementTx;
  readonly ChainSendSettle: SettlementTx;
}

/** An open channel as the chain holds it (addresses lowercase, in every view). */
export interface OpenChannelView {
  readonly status: "open";
  readonly channelId: ChannelId;
  /** What the wire carries to name this channel. */
  readonly ref: ChannelRef;
  readonly a: Address;
  readonly b: Address;
  readonly depositA: bigint;
  readonly depositB: bigint;
  /** Seconds. */
  readonly settleWindow: number;
}

/** A channel in its dispute window. */
export interface ClosingChannelView {
  readonly status: "closing";
  readonly channelId: ChannelId;
  readonly ref: ChannelRef;
  readonly a: Address;
  readonly b: Address;
  readonly closing: CommittedState;
  /** Unix seconds: the first block time at which it can be settled. */
  readonly finalizesAt: number;
}

/** A channel as read from the chain; `none` when never opened or already paid out. */
export type ChannelView =
  | { readonly status: "none"; readonly channelId: ChannelId }
  | OpenChannelView
  | ClosingChannelView;

/** The open channel a reference names. */
export type ResolvedChannel = OpenChannelView;

/**
 * A settlement backend acting for one account. Every method may throw the backend's transport
 * errors (for a chain, `ChainError` RPC_*); refusals are `SettlementError`s.
 */
export interface SettlementBackend {
  /**
   * The EIP-712 domain this backend's payment proofs and settlements are signed under: the chain
   * and contract a provider's HELLO names.
   */
  readonly domain: ChannelDomain;

  /** The account this backend signs for. */
  account(): Promise<Address>;

  /**
   * The tokens `owner` holds outside the channels: what it could fund a channel with (a market
   * credits requesters with it; a node checks it before a deposit).
   */
  balanceOf(owner: Address): Promise<bigint>;

  /** The latest block and the time the next one will carry. */
  now(): Promise<ChainNow>;

  /**
   * The events of blocks `after + 1 .. to`, in order, with a `ChainBlock` after each stretch
   * read (the last one for `to`): apply them and save the last `ChainBlock`'s block as the cursor,
   * and a restart resumes exactly there. Nothing when `to <= after`.
   */
  events(after: number, to: number): AsyncIterable<ChainEvent>;

  /**
   * Carries out an effect and waits until the chain has it.
   * @throws SettlementError with the refusal's code (CHANNEL_NOT_OPEN, STALE_PROOF, WINDOW_RUNNING, …)
   */
  send<E extends SettlementEffect>(effect: E): Promise<SendOutcomes[E["type"]]>;

  /** Reads a channel: status, participants, deposits, or the committed state and window end. */
  channel(channelId: ChannelId): Promise<ChannelView>;

  /**
   * Resolves a reference the wire carried to the open channel it names.
   * @returns the channel, or REF_INVALID (not a reference of this backend) / CHANNEL_UNKNOWN (no
   *   such open channel).
   */
  resolve(ref: ChannelRef): Promise<SettlementResult<ResolvedChannel>>;
}
