/**
 * Effects of the channel state machine, named by destination: `Send*` to the partner,
 * `ChainSend*` to the chain (through `SettlementBackend.send`), `Notify*` to this node's
 * application, `InvalidReceived*` for rejected peer or chain input (recorded, state unchanged).
 */
import type { ChannelErrorCode } from "../errors.ts";
import type { ChainSendCooperativeClose } from "../settlement/effects.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { ChannelId, Role, Settlement } from "../types.ts";
import type { ChannelInput } from "./inputs.ts";

/** Send a new balance proof to the partner. */
export interface SendBalanceProof {
  readonly type: "SendBalanceProof";
  readonly channelId: ChannelId;
  readonly signed: SignedBalanceProof;
}

/** Send a signed settlement proposal to the partner. */
export interface SendSettlementProposal {
  readonly type: "SendSettlementProposal";
  readonly channelId: ChannelId;
  readonly settlement: Settlement;
  readonly signature: Uint8Array;
}

/** Send our countersignature of the partner's proposal. */
export interface SendSettlementSignature {
  readonly type: "SendSettlementSignature";
  readonly channelId: ChannelId;
  readonly settlement: Settlement;
  readonly signature: Uint8Array;
}

/** The channel is open on chain. */
export interface NotifyChannelOpened {
  readonly type: "NotifyChannelOpened";
  readonly channelId: ChannelId;
}

/** A deposit was credited. */
export interface NotifyDeposit {
  readonly type: "NotifyDeposit";
  readonly channelId: ChannelId;
  readonly participant: Role;
  readonly total: bigint;
}

/** A proof from the partner was accepted: `amount` more received, `transferred` in total. */
export interface NotifyPaymentReceived {
  readonly type: "NotifyPaymentReceived";
  readonly channelId: ChannelId;
  readonly amount: bigint;
  readonly transferred: bigint;
  readonly nonce: bigint;
}

/** A cooperative settlement now carries both signatures. */
export interface NotifySettlementSigned {
  readonly type: "NotifySettlementSigned";
  readonly channelId: ChannelId;
  readonly settlement: Settlement;
}

/** The channel was closed unilaterally on chain. */
export interface NotifyChannelClosed {
  readonly type: "NotifyChannelClosed";
  readonly channelId: ChannelId;
  readonly closedBy: Role;
}

/** The channel paid out. */
export interface NotifyChannelSettled {
  readonly type: "NotifyChannelSettled";
  readonly channelId: ChannelId;
  readonly payoutA: bigint;
  readonly payoutB: bigint;
  readonly cooperative: boolean;
}

/** A local action could not be carried out (state unchanged). */
export interface NotifyActionRejected {
  readonly type: "NotifyActionRejected";
  readonly channelId: ChannelId;
  readonly action: ChannelInput["type"];
  readonly code: ChannelErrorCode;
  readonly reason: string;
}

/** A balance proof from the partner was rejected (state unchanged). */
export interface InvalidReceivedBalanceProof {
  readonly type: "InvalidReceivedBalanceProof";
  readonly channelId: ChannelId;
  readonly nonce: bigint;
  readonly code: ChannelErrorCode;
  readonly reason: string;
}

/** A settlement message from the partner was rejected (state unchanged). */
export interface InvalidReceivedSettlement {
  readonly type: "InvalidReceivedSettlement";
  readonly channelId: ChannelId;
  readonly code: ChannelErrorCode;
  readonly reason: string;
}

/** A chain event did not fit this channel's state (state unchanged). */
export interface InvalidReceivedChainEvent {
  readonly type: "InvalidReceivedChainEvent";
  readonly channelId: ChannelId;
  readonly event: ChannelInput["type"];
  readonly code: ChannelErrorCode;
  readonly reason: string;
}

/** Every effect of `transition`. */
export type ChannelEffect =
  | SendBalanceProof
  | SendSettlementProposal
  | SendSettlementSignature
  /** Submit `cooperativeClose` with both signatures (the settlement interface's effect). */
  | ChainSendCooperativeClose
  | NotifyChannelOpened
  | NotifyDeposit
  | NotifyPaymentReceived
  | NotifySettlementSigned
  | NotifyChannelClosed
  | NotifyChannelSettled
  | NotifyActionRejected
  | InvalidReceivedBalanceProof
  | InvalidReceivedSettlement
  | InvalidReceivedChainEvent;
