/**
 * Inputs of the channel state machine, named by origin: `Receive*` from the partner, `Chain*`
 * from the settlement feed (each the feed's own event, of which the core reads a part, so that an
 * event from the feed is an input as it is), `Action*` from this node. Unilateral closes, proof
 * updates and settles are the dispute machine's (channels/watcher); this core only learns that a
 * channel closed and that it was paid out.
 */
import type { SignatureCheck } from "../crypto/verifier.ts";
import type {
  ChainChannelClosed as ClosedEvent,
  ChainDeposited as DepositedEvent,
  ChainChannelOpened as OpenedEvent,
  ChainChannelSettled as SettledEvent,
} from "../settlement/events.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { ChannelDomain, Settlement } from "../types.ts";

/** The channel was opened (with A's initial deposit, possibly 0). */
export type ChainChannelOpened = Pick<OpenedEvent, "type" | "channelId" | "depositA">;

/** A deposit (top-up) was credited; `total` is the participant's new total deposit. */
export type ChainDeposited = DepositedEvent;

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

/** A participant closed the channel unilaterally: payments stop; the window ends at `finalizesAt`. */
export type ChainChannelClosed = Pick<ClosedEvent, "type" | "channelId" | "closer" | "finalizesAt">;

/**
 * The channel was paid out: after a unilateral close's window, or at once by `cooperativeClose`
 * (cooperative exactly when no close came first: a closing channel cannot close cooperatively).
 */
export type ChainChannelSettled = Pick<SettledEvent, "type" | "channelId" | "payoutA" | "payoutB">;

/** Every input of `transition`. */
export type ChannelInput =
  | ChainChannelOpened
  | ChainDeposited
  | ActionPay
  | ReceiveBalanceProof
  | ActionProposeSettlement
  | ReceiveSettlementProposal
  | ReceiveSettlementSignature
  | ChainChannelClosed
  | ChainChannelSettled;
