/**
 * The one order on payment proofs, below every part that compares them: the channel core, the
 * verify pool, the dispute machine and the backends.
 */

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

/**
 * The one order on payment proofs of one signer (the contract's): higher `transferred` wins;
 * equal `transferred`, higher nonce wins. For proofs an honest receiver accepted this is nonce
 * order, and a signer cannot bury its partner's best proof under a high nonce with a low amount.
 * Any payment proof fits (a balance proof as it is). Returns > 0 when `a` beats `b`; null counts
 * as lowest.
 */
export function compareProofs(a: ProofPosition | null, b: ProofPosition | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (a.transferred !== b.transferred) return a.transferred > b.transferred ? 1 : -1;
  if (a.nonce !== b.nonce) return a.nonce > b.nonce ? 1 : -1;
  return 0;
}
