/**
 * The frames of a payment session (docs/architecture.md, "Payment sessions"), as typed values. On the wire
 * each is a msgpack array `[type, ...fields]` (see codec.ts for the field order).
 */
import type { Address, ChannelId, ChannelRef } from "../../channels/index.ts";
import type { RelayErrorCode } from "../errors.ts";
import type { TunnelConfig, TunnelKind } from "../tunnel/driver.ts";

/** The protocol version HELLO announces (2: OPEN names its channel by an opaque reference). */
export const PROTOCOL_VERSION = 2;

/** Frame type numbers (the first array element on the wire). */
export const FrameType = {
  HELLO: 1,
  AUTH: 2,
  AUTH_OK: 3,
  OPEN: 4,
  READY: 5,
  PAY: 6,
  ACK: 7,
  USAGE: 8,
  WARN: 9,
  CLOSE: 10,
  ERROR: 11,
  SETTLE_PROPOSE: 12,
  SETTLE_SIGN: 13,
  QUOTE: 14,
  QUOTE_OK: 15,
  ACCEPT: 16,
} as const;

/** A frame's name. */
export type FrameName = keyof typeof FrameType;

/** How a session is metered: per started second, per byte or per packet through the tunnel. */
export type MeterMode = "second" | "byte" | "packet";

/** Provider → requester, first frame: who it is and a fresh nonce to sign. */
export interface HelloFrame {
  readonly type: "HELLO";
  readonly version: number;
  readonly chainId: bigint;
  readonly contract: Address;
  readonly provider: Address;
  /** 32 fresh random bytes. */
  readonly nonce: Uint8Array;
}

/** Requester → provider: its address, its own fresh nonce, a signature over both nonces. */
export interface AuthFrame {
  readonly type: "AUTH";
  readonly requester: Address;
  readonly nonce: Uint8Array;
  readonly signature: Uint8Array;
}

/** Provider → requester: the provider's signature over both nonces. */
export interface AuthOkFrame {
  readonly type: "AUTH_OK";
  readonly signature: Uint8Array;
}

/** Requester → provider: open (or resume) a session on a channel. */
export interface OpenFrame {
  readonly type: "OPEN";
  readonly channelId: ChannelId;
  /**
   * The channel's reference as its settlement backend made it (opaque bytes, at most
   * MAX_CHANNEL_REF_BYTES): the provider resolves it to the channel, which must be `channelId`.
   */
  readonly ref: ChannelRef;
  readonly dealId: string;
  readonly mode: MeterMode;
  /** Price per unit (second, byte or packet), token base units. */
  readonly unitPrice: bigint;
  readonly tunnelKind: TunnelKind;
  readonly tunnelParams: Readonly<Record<string, string | number>>;
  /** Units the requester pays ahead. */
  readonly prepayUnits: bigint;
  /** A session id to resume after a reconnect, or null for a new session. */
  readonly resume: string | null;
}

/** Provider → requester: the session is paid up and its tunnel is up. */
export interface ReadyFrame {
  readonly type: "READY";
  readonly channelId: ChannelId;
  readonly sessionId: string;
  readonly tunnel: TunnelConfig;
  /** The most the provider lets the requester owe. */
  readonly creditLimit: bigint;
  /** How often the provider reports usage, ms. */
  readonly tickMs: number;
  /** Highest durable nonce and its cumulative amount (what a resumed session continues from). */
  readonly ackedNonce: bigint;
  readonly ackedTransferred: bigint;
  /** The channel's transferred amount when the session started (owed counts from there). */
  readonly base: bigint;
}

/**
 * Provider → requester: an OPEN is accepted and its session waits for the first unit. It tells
 * what the first payment builds on, so that nothing is signed before the provider has taken the
 * session: the channel's highest durable nonce and amount, and `billed`, the cumulative amount
 * that pays for everything billed on the channel before this session (it exceeds
 * `ackedTransferred` when earlier sessions left a debt). The first unit is paid on top of it.
 */
export interface AcceptFrame {
  readonly type: "ACCEPT";
  readonly channelId: ChannelId;
  readonly sessionId: string;
  readonly ackedNonce: bigint;
  readonly ackedTransferred: bigint;
  readonly billed: bigint;
}

/** Requester → provider: a balance proof. */
export interface PayFrame {
  readonly type: "PAY";
  readonly channelId: ChannelId;
  readonly nonce: bigint;
  readonly transferred: bigint;
  readonly signature: Uint8Array;
}

/** Provider → requester: the highest durable nonce and what the session owes so far. */
export interface AckFrame {
  readonly type: "ACK";
  readonly channelId: ChannelId;
  readonly nonce: bigint;
  readonly transferred: bigint;
  readonly owed: bigint;
}

/** Provider → requester: units consumed so far by the provider's counters, and what they cost. */
export interface UsageFrame {
  readonly type: "USAGE";
  readonly sessionId: string;
  readonly units: bigint;
  readonly owed: bigint;
}

/** Provider → requester: payment is behind; the tunnel goes down in `teardownInMs`. */
export interface WarnFrame {
  readonly type: "WARN";
  readonly sessionId: string;
  readonly teardownInMs: number;
  readonly unpaid: bigint;
}

/** Either side: the session ends (the channel stays open). */
export interface CloseFrame {
  readonly type: "CLOSE";
  readonly sessionId: string;
  readonly code: RelayErrorCode;
  readonly reason: string;
}

/** Either side: a frame was refused; `ref` names what it was about (channel, session), if any. */
export interface ErrorFrame {
  readonly type: "ERROR";
  readonly code: RelayErrorCode;
  readonly message: string;
  readonly ref: string | null;
}

/** Either side: a signed cooperative settlement of the channel. */
export interface SettleProposeFrame {
  readonly type: "SETTLE_PROPOSE";
  readonly channelId: ChannelId;
  readonly payoutA: bigint;
  readonly payoutB: bigint;
  readonly signature: Uint8Array;
}

/** Either side: the countersignature of a proposed settlement. */
export interface SettleSignFrame {
  readonly type: "SETTLE_SIGN";
  readonly channelId: ChannelId;
  readonly payoutA: bigint;
  readonly payoutB: bigint;
  readonly signature: Uint8Array;
}

/**
 * Requester → provider: what would a session of this kind, mode and parameters cost? (A fast-lane
 * path asks every hop before it opens anything.) Answered by QUOTE_OK or ERROR with `ref` = id.
 */
export interface QuoteFrame {
  readonly type: "QUOTE";
  /** The requester's id for this question, echoed in the answer. */
  readonly quoteId: string;
  readonly mode: MeterMode;
  readonly tunnelKind: TunnelKind;
  readonly tunnelParams: Readonly<Record<string, string | number>>;
}

/** Provider → requester: the terms an OPEN with these parameters would get. */
export interface QuoteOkFrame {
  readonly type: "QUOTE_OK";
  readonly quoteId: string;
  /** The lowest unit price an OPEN may offer. */
  readonly unitPrice: bigint;
  readonly creditLimit: bigint;
  /** Teardown grace after the credit runs out, ms. */
  readonly graceMs: number;
  readonly tickMs: number;
  /** Whether the tunnel opens on credit, before the first unit is paid. */
  readonly activateOnCredit: boolean;
}

/** Every frame. */
export type Frame =
  | HelloFrame
  | AuthFrame
  | AuthOkFrame
  | OpenFrame
  | ReadyFrame
  | PayFrame
  | AckFrame
  | UsageFrame
  | WarnFrame
  | CloseFrame
  | ErrorFrame
  | SettleProposeFrame
  | SettleSignFrame
  | QuoteFrame
  | QuoteOkFrame
  | AcceptFrame;
