/**
 * The state a chain holds for a channel in its dispute window, and the two rules that build it
 * from chain events: a close stores the closer's partner's proof, an update replaces one side's.
 * Written once, for the dispute machine, the backends' reads and the in-memory chain.
 */

import type { ProofPosition } from "../proof-order.ts";
import type { Address, CommittedState, Role } from "../types.ts";

/**
 * The committed state right after a close: the closer submitted its partner's proof (`partner`),
 * and the closer's own side starts empty.
 */
export function committedAtClose(
  opened: { readonly a: Address; readonly b: Address },
  deposits: { readonly depositA: bigint; readonly depositB: bigint },
  closedBy: Role,
  partner: ProofPosition,
): CommittedState {
  const closerIsA = closedBy === "A";
  return {
    a: opened.a,
    b: opened.b,
    depositA: deposits.depositA,
    depositB: deposits.depositB,
    nonceA: closerIsA ? 0n : partner.nonce,
    sentA: closerIsA ? 0n : partner.transferred,
    nonceB: closerIsA ? partner.nonce : 0n,
    sentB: closerIsA ? partner.transferred : 0n,
  };
}

/** The committed state with `signer`'s side replaced by a better proof. */
export function withProofUpdate(
  c: CommittedState,
  signer: Role,
  proof: ProofPosition,
): CommittedState {
  return signer === "A"
    ? { ...c, nonceA: proof.nonce, sentA: proof.transferred }
    : { ...c, nonceB: proof.nonce, sentB: proof.transferred };
}

/** The position of the proof of `signer`'s transfers the chain holds. */
export function heldProof(c: CommittedState, signer: Role): ProofPosition {
  return signer === "A"
    ? { nonce: c.nonceA, transferred: c.sentA }
    : { nonce: c.nonceB, transferred: c.sentB };
}

/** Which role `who` has in a channel between `a` and `b` (addresses in any case), if any. */
export function roleOf(
  opened: { readonly a: Address; readonly b: Address },
  who: Address,
): Role | undefined {
  const w = who.toLowerCase();
  if (w === opened.a.toLowerCase()) return "A";
  if (w === opened.b.toLowerCase()) return "B";
  return undefined;
}

/**
 * The contract's payout rule at settle: `payoutA = clamp(depositA − sentA + sentB, 0, total)`,
 * `payoutB = total − payoutA`, so tokens are conserved whatever proofs were submitted.
 */
export function computePayouts(
  depositA: bigint,
  depositB: bigint,
  sentA: bigint,
  sentB: bigint,
): { payoutA: bigint; payoutB: bigint } {
  const total = depositA + depositB;
  let payoutA = depositA - sentA + sentB;
  if (payoutA < 0n) payoutA = 0n;
  if (payoutA > total) payoutA = total;
  return { payoutA, payoutB: total - payoutA };
}
