/**
 * What every payment proof offers the dispute machine and the proof order, whatever the backend:
 * a PaymentChannels balance proof satisfies it as it is, and so will a Nitro voucher.
 */
import type { ChannelId } from "../types.ts";

/**
 * Where a proof stands among the proofs of one signer on one channel: the two numbers the chain
 * orders them by (see `compareProofs`).
 */
export interface ProofPosition {
  /**
   * The ordering key: a balance proof's nonce. A cumulative voucher, which has none, uses its
   * amount, so that its order is its amount's.
   */
  readonly nonce: bigint;
  /** Cumulative amount the signer has transferred to its partner, in token base units. */
  readonly transferred: bigint;
}

/** A payment proof: which channel, its position, and (beside it) the signer's signature. */
export interface PaymentProof extends ProofPosition {
  readonly channelId: ChannelId;
}

/** A payment proof with the signature the chain checks (its bytes as the backend defines them). */
export interface SignedPaymentProof {
  readonly proof: PaymentProof;
  readonly signature: Uint8Array;
}
