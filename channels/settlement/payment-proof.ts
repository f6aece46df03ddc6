/**
 * What every payment proof offers the dispute machine and the proof order, whatever the backend:
 * a PaymentChannels balance proof satisfies it as it is, and so will a Nitro voucher.
 */
import type { ProofPosition } from "../proof-order.ts";
import type { ChannelId } from "../types.ts";

/** A payment proof: which channel, its position, and (beside it) the signer's signature. */
export interface PaymentProof extends ProofPosition {
  readonly channelId: ChannelId;
}

/** A payment proof with the signature the chain checks (its bytes as the backend defines them). */
export interface SignedPaymentProof {
  readonly proof: PaymentProof;
  readonly signature: Uint8Array;
}
