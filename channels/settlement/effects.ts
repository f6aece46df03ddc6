/**
 * What the cores ask of the chain (`ChainSend*`), carried out by `SettlementBackend.send`. The
 * channel core emits the cooperative close; the dispute machine the close, the update and the
 * settle; a node's own actions the open and the deposit.
 */
import type { Address, ChannelId, CommittedState, Role, Settlement } from "../types.ts";
import type { SignedPaymentProof } from "./payment-proof.ts";

/** Open a channel to `partner` with a first deposit of `amount`. */
export interface ChainSendOpen {
  readonly type: "ChainSendOpen";
  readonly partner: Address;
  readonly amount: bigint;
  /** Seconds; the backend refuses what its deployment does not allow. */
  readonly settleWindow: number;
}

/** Add `amount` to `participant`'s deposit (anyone may fund either side while open). */
export interface ChainSendDeposit {
  readonly type: "ChainSendDeposit";
  readonly channelId: ChannelId;
  readonly participant: Role;
  readonly amount: bigint;
}

/** Pay out a settlement both participants signed. */
export interface ChainSendCooperativeClose {
  readonly type: "ChainSendCooperativeClose";
  readonly channelId: ChannelId;
  readonly settlement: Settlement;
  readonly signatureA: Uint8Array;
  readonly signatureB: Uint8Array;
}

/** Close unilaterally with the partner's latest proof (null: none received). */
export interface ChainSendClose {
  readonly type: "ChainSendClose";
  readonly channelId: ChannelId;
  readonly proof: SignedPaymentProof | null;
}

/** Replace the chain's proof of `signer`'s transfers with a better one, in the window. */
export interface ChainSendUpdateProof {
  readonly type: "ChainSendUpdateProof";
  readonly channelId: ChannelId;
  /** What the chain holds now (PaymentChannels checks it against its commitment). */
  readonly closing: CommittedState;
  readonly signer: Role;
  readonly signed: SignedPaymentProof;
}

/** Pay the channel out after its window. */
export interface ChainSendSettle {
  readonly type: "ChainSendSettle";
  readonly channelId: ChannelId;
  readonly closing: CommittedState;
}

/** Every effect a settlement backend carries out. */
export type SettlementEffect =
  | ChainSendOpen
  | ChainSendDeposit
  | ChainSendCooperativeClose
  | ChainSendClose
  | ChainSendUpdateProof
  | ChainSendSettle;
