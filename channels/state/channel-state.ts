/** The state of one channel as one participant sees it, and its creation. */
import { normalizeAddress } from "../crypto/address.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { Address, ChannelDomain, ChannelId, Role, Settlement } from "../types.ts";

/** The channel's fixed parameters, as opened on chain. */
export interface ChannelParams {
  readonly channelId: ChannelId;
  readonly domain: ChannelDomain;
  /** Lowercase. */
  readonly participantA: Address;
  /** Lowercase. */
  readonly participantB: Address;
  /** Which participant this node is. */
  readonly self: Role;
  /** Settle window chosen at open, in seconds. */
  readonly settleTimeout: bigint;
}

/**
 * Lifecycle on chain: `opening` (known locally, not yet seen open on chain), `open`, `closed`
 * (a unilateral close started the settle window; the dispute machine takes it from there),
 * `settled` (paid out, cooperatively or not).
 */
export type ChannelStatus = "opening" | "open" | "closed" | "settled";

/** A cooperative settlement this node has signed (and the partner's signature once known). */
export interface PendingSettlement {
  readonly settlement: Settlement;
  readonly proposedBy: Role;
  readonly signatureA: Uint8Array | null;
  readonly signatureB: Uint8Array | null;
}

/**
 * A unilateral close as this core knows it. The proofs the chain holds are the dispute machine's
 * business (channels/watcher), not this core's.
 */
export interface OnChainClose {
  readonly closedBy: Role;
  /** Unix seconds from which the channel can be settled. */
  readonly settleDeadline: bigint;
}

/** Final payouts once settled. */
export interface Payouts {
  readonly payoutA: bigint;
  readonly payoutB: bigint;
  readonly cooperative: boolean;
}

/**
 * One channel, both directions, as one participant sees it. Readonly: transitions return new
 * objects. O(1) in size: only the latest proof of each direction is kept.
 */
export interface ChannelState {
  readonly params: ChannelParams;
  readonly status: ChannelStatus;
  /** Total deposited by A, from the contract's events (never decreases). */
  readonly depositA: bigint;
  readonly depositB: bigint;
  /** Latest proof this node signed (its cumulative `sent`), or null. */
  readonly sent: SignedBalanceProof | null;
  /** Latest proof accepted from the partner, or null. */
  readonly received: SignedBalanceProof | null;
  /** Set once this node has signed a settlement: payments are frozen from then on. */
  readonly settlement: PendingSettlement | null;
  /** Set by `ChainChannelClosed`. */
  readonly close: OnChainClose | null;
  /** Set by `ChainChannelSettled`. */
  readonly payouts: Payouts | null;
}

/**
 * A fresh channel in status `opening`, before the chain has confirmed it. Addresses (participants
 * and contract) are stored lowercase.
 * @throws TypeError when an address is malformed or both participants are the same.
 */
export function createChannel(params: ChannelParams): ChannelState {
  const participantA = normalizeAddress(params.participantA);
  const participantB = normalizeAddress(params.participantB);
  if (participantA === participantB) throw new TypeError("participants must differ");
  const domain = {
    chainId: params.domain.chainId,
    verifyingContract: normalizeAddress(params.domain.verifyingContract),
  };
  return {
    params: { ...params, domain, participantA, participantB },
    status: "opening",
    depositA: 0n,
    depositB: 0n,
    sent: null,
    received: null,
    settlement: null,
    close: null,
    payouts: null,
  };
}

/** The partner's role. */
export function otherRole(role: Role): Role {
  return role === "A" ? "B" : "A";
}

/** A participant's address. */
export function addressOf(params: ChannelParams, role: Role): Address {
  return role === "A" ? params.participantA : params.participantB;
}
