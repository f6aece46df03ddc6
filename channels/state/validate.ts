/**
 * The acceptance rules for a balance proof received from the partner (docs/architecture.md,
 * "Channels and balance proofs").
 */
import { sameDomain } from "../crypto/domain-cache.ts";
import type { SignatureCheck } from "../crypto/verifier.ts";
import { type Rejection, reject } from "../errors.ts";
import type { BalanceProof, ChannelDomain } from "../types.ts";
import { balanceOf } from "./balances.ts";
import { addressOf, type ChannelState, otherRole } from "./channel-state.ts";

const UINT64_MAX = (1n << 64n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;

/**
 * Every rule except the signature: channel open and not frozen, channel id and domain, value
 * ranges, strictly increasing nonce, never-decreasing `transferred`, and the sender's balance
 * `deposit_X + sent_Y − sent_X` not below zero. Cheap and synchronous: the relay may call it to
 * drop hopeless proofs before spending a signature verification on them.
 * @returns null when the proof passes, else the rejection.
 */
export function precheckReceivedProof(
  state: ChannelState,
  proof: BalanceProof,
  domain: ChannelDomain,
): Rejection | null {
  if (state.status === "opening")
    return reject("CHANNEL_NOT_OPEN", "channel not open on chain yet");
  // After a close the contract holds what it holds; a later proof would be a promise we cannot
  // redeem, so it must not count as payment.
  if (state.status !== "open") return reject("CHANNEL_CLOSED", `channel is ${state.status}`);
  // Once we signed a settlement its payouts are final: a later proof would not be paid.
  if (state.settlement !== null) return reject("CHANNEL_FROZEN", "a settlement is signed");
  if (proof.channelId !== state.params.channelId) {
    return reject("CHANNEL_MISMATCH", `proof is for channel ${String(proof.channelId)}`);
  }
  // A proof signed for another chain or contract is worthless on ours.
  if (!sameDomain(domain, state.params.domain)) {
    return reject("DOMAIN_MISMATCH", "proof signed for another chain or contract");
  }
  if (
    typeof proof.nonce !== "bigint" ||
    typeof proof.transferred !== "bigint" ||
    proof.nonce < 1n ||
    proof.nonce > UINT64_MAX ||
    proof.transferred < 0n ||
    proof.transferred > UINT256_MAX
  ) {
    return reject("VALUE_OUT_OF_RANGE", "nonce or transferred outside uint64/uint256");
  }
  const last = state.received?.proof;
  // Nonces grow, or a replayed older proof could take the place of a newer one.
  if (last !== undefined && proof.nonce <= last.nonce) {
    return reject("NONCE_NOT_INCREASING", `nonce ${proof.nonce} <= accepted ${last.nonce}`);
  }
  // Transfers are cumulative: a smaller total would hand back money already received.
  if (last !== undefined && proof.transferred < last.transferred) {
    return reject(
      "TRANSFERRED_DECREASED",
      `transferred ${proof.transferred} < accepted ${last.transferred}`,
    );
  }
  // The partner cannot pay with tokens it does not have in the channel (deposit plus what we
  // sent it, top-ups included): the contract would clamp its payout and we would lose the excess.
  const partner = otherRole(state.params.self);
  const before = balanceOf(state, partner);
  const paid = proof.transferred - (last?.transferred ?? 0n);
  if (before - paid < 0n) {
    return reject("BALANCE_NEGATIVE", `partner balance ${before} cannot pay ${paid}`);
  }
  return null;
}

/**
 * All rules, the signature's included: `check` must be valid and name the partner.
 * @returns null when the proof is acceptable, else the rejection.
 */
export function validateReceivedProof(
  state: ChannelState,
  proof: BalanceProof,
  domain: ChannelDomain,
  check: SignatureCheck,
): Rejection | null {
  const pre = precheckReceivedProof(state, proof, domain);
  if (pre !== null) return pre;
  if (!check.ok) return reject(check.code, check.reason);
  // The verifier says who signed; only the partner's signature moves its balance.
  const partner = addressOf(state.params, otherRole(state.params.self));
  if (check.value.toLowerCase() !== partner) {
    return reject("SIGNER_MISMATCH", `signed by ${check.value}, expected ${partner}`);
  }
  return null;
}
