/** A balance proof together with its sender's signature. */
import type { BalanceProof } from "./types.ts";

/** A balance proof and the sender's signature over its EIP-712 digest (65 or 64 bytes). */
export interface SignedBalanceProof {
  readonly proof: BalanceProof;
  /** `r‖s‖v` (65 bytes, v 27/28) or EIP-2098 `r‖yParityAndS` (64 bytes), as received. */
  readonly signature: Uint8Array;
}
