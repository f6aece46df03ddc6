/**
 * Inputs of the channel state machine, named by origin: `Receive*` from the partner, `Chain*`
 * from the contract's events, `Action*` from this node.
 */
import type { SignatureCheck } from "../crypto/verifier.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { BalanceProof, ChannelDomain, ChannelId, Settlement } from "../types.ts";
import type { Role } from "./channel-state.ts";

/** The contract opened the channel (with A's initial deposit, possibly 0). */
export interface ChainChannelOpened {
  readonly type: "ChainChannelOpened";
  readonly channelId: ChannelId;
  readonly depositA: bigint;
}

/** A deposit (top-up) was credited; `total` is the participant's new total deposit. */
export interface ChainDeposited {
  readonly type: "ChainDeposited";
  readonly channelId: ChannelId;
  readonly participant: Role;
  readonly total: bigint;
}

/** Pay the partner `amount` more (signs and sends a new balance proof). */
export interface ActionPay {
  readonly type: "ActionPay";
  readonly amount: bigint;
}

/**
 * A balance proof from the partner. The shell verifies the signature first (usually in the
 * `VerifyPool`, batched and with cached keys) and passes the outcome as `check`; the transition
 * then checks that the verified signer is the partner and applies every other rule.
 *
 * Why the outcome and not a verifier in ctx: verification is the throughput limit of a node and
 * must run on worker threads, which a synchronous pure function cannot call; and an input that
 * carries its verdict replays deterministically from a log without re-verifying.
 */
export interface ReceiveBalanceProof {
  readonly type: "ReceiveBalanceProof";
  readonly signed: SignedBalanceProof;
  /** The EIP-712 domain the shell verified the signature under. */
  readonly domain: ChannelDomain;
  /** Outcome of verifying `signed` under `domain` against the partner's address. */
  readonly check: SignatureCheck;
}

/** Propose a cooperative close at the current balances (signs a `Settlement`). */
export interface ActionProposeSettlement {
  readonly type: "ActionProposeSettlement";
}

/** The partner proposes a cooperative close, with its signature (verified by the shell). */
export interface ReceiveSettlementProposal {
  readonly type: "ReceiveSettlementProposal";
  readonly settlement: Settlement;
  readonly signature: Uint8Array;
  readonly domain: ChannelDomain;
  readonly check: SignatureCheck;
}

/** The partner countersigned our proposal (signature verified by the shell). */
export interface ReceiveSettlementSignature {
  readonly type: "ReceiveSettlementSignature";
  readonly settlement: Settlement;
  readonly signature: Uint8Array;
  readonly domain: ChannelDomain;
  readonly check: SignatureCheck;
}

/** Close unilaterally with the partner's latest proof. */
export interface ActionClose {
  readonly type: "ActionClose";
}

/**
 * A participant closed the channel unilaterally; the contract stored the proof of the other
 * participant's transfers (`proof`, null when none was given).
 */
export interface ChainChannelClosed {
  readonly type: "ChainChannelClosed";
  readonly channelId: ChannelId;
  readonly closedBy: Role;
  readonly proof: BalanceProof | null;
  readonly settleDeadline: bigint;
}

/** A proof of `signer`'s transfers was submitted during the settle window and kept. */
export interface ChainProofUpdated {
  readonly type: "ChainProofUpdated";
  readonly channelId: ChannelId;
  readonly signer: Role;
  readonly proof: BalanceProof;
}

/** Settle after the window (checks ctx.now against the deadline). */
export interface ActionSettle {
  readonly type: "ActionSettle";
}

/** The contract paid out (after `settle`, or at once by `cooperativeClose`). */
export interface ChainChannelSettled {
  readonly type: "ChainChannelSettled";
  readonly channelId: ChannelId;
  readonly payoutA: bigint;
  readonly payoutB: bigint;
  readonly cooperative: boolean;
}

/** Every input of `transition`. */
export type ChannelInput =
  | ChainChannelOpened
  | ChainDeposited
  | ActionPay
  | ReceiveBalanceProof
  | ActionProposeSettlement
  | ReceiveSettlementProposal
  | ReceiveSettlementSignature
  | ActionClose
  | ChainChannelClosed
  | ChainProofUpdated
  | ActionSettle
  | ChainChannelSettled;
