/** Branded identifiers and the EIP-712 message shapes shared by every part of tollway. */

/** A channel id: 32 bytes as 0x-prefixed lowercase hex. */
export type ChannelId = `0x${string}` & { readonly __brand: "ChannelId" };

/** A 20-byte account address as 0x-prefixed hex (any case). */
export type Address = `0x${string}`;

/** Which participant: A opened the channel, B is its partner. */
export type Role = "A" | "B";

/** The EIP-712 domain every tollway signature is bound to. */
export interface ChannelDomain {
  readonly chainId: bigint;
  readonly verifyingContract: Address;
}

/** `BalanceProof(bytes32 channelId, uint64 nonce, uint256 transferred)`, signed by the sender. */
export interface BalanceProof {
  readonly channelId: ChannelId;
  /** Grows by one with every proof its signer signs. */
  readonly nonce: bigint;
  /** Cumulative amount the signer has transferred to its partner, in token base units. */
  readonly transferred: bigint;
}

/** `Settlement(bytes32 channelId, uint256 payoutA, uint256 payoutB)`, signed by both participants. */
export interface Settlement {
  readonly channelId: ChannelId;
  readonly payoutA: bigint;
  readonly payoutB: bigint;
}

/** Marks a 32-byte hex string as a channel id (lowercased). */
export function asChannelId(hex: string): ChannelId {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new TypeError(`not a 32-byte channel id: ${hex}`);
  }
  return hex.toLowerCase() as ChannelId;
}

/**
 * A closing channel as the chain holds it: participants, deposits and, per side, the best proof
 * of that side's transfers submitted so far (nonce 0 and nothing sent: none). PaymentChannels
 * commits to its hash and takes it back as it is in `updateProof` and `settle`; a backend that
 * needs it gets it in the effects that act on the channel.
 */
export interface CommittedState {
  /** The opener. */
  readonly a: Address;
  readonly b: Address;
  readonly depositA: bigint;
  readonly depositB: bigint;
  readonly nonceA: bigint;
  readonly sentA: bigint;
  readonly nonceB: bigint;
  readonly sentB: bigint;
}
