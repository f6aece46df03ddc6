/**
 * Nitro's state and exit format, field for field as nitro-protocol v2's contracts read them
 * (INitroTypes.sol, @statechannels/exit-format's ExitFormat.sol), so that a value passes to the
 * adjudicator's ABI as it is. uint48 fields are numbers (below 2^48, exact in a double); uint64
 * and uint256 fields are bigints.
 */
import type { Address, ChannelId } from "../../types.ts";

/** 0x-prefixed hex bytes of any length (`bytes` in Solidity). */
export type HexBytes = `0x${string}`;

/**
 * A Nitro destination: 32 bytes as lowercase 0x-hex, either an external address left-padded with
 * 12 zero bytes, or a channel id (a guarantee's target, a channel funded by another).
 */
export type Destination = `0x${string}`;

/** The part of a state that never changes; its hash is the channel id. */
export interface FixedPart {
  readonly participants: readonly Address[];
  /** uint64: tells apart channels with the same participants and app. */
  readonly channelNonce: bigint;
  /** The app contract whose `stateIsSupported` decides which states are supported. */
  readonly appDefinition: Address;
  /** uint48: seconds from a challenge until the channel finalizes. */
  readonly challengeDuration: number;
}

/** ExitFormat's `AssetType`: Default (ERC-20 or native), ERC721, ERC1155, Qualified. */
export const AssetType = { Default: 0, ERC721: 1, ERC1155: 2, Qualified: 3 } as const;

/** ExitFormat's `AllocationType`: a plain payout, a withdraw-helper call, or a guarantee. */
export const AllocationType = { simple: 0, withdrawHelper: 1, guarantee: 2 } as const;

/** `AssetMetadata { AssetType assetType; bytes metadata; }`. */
export interface AssetMetadata {
  /** uint8, one of {@link AssetType}. */
  readonly assetType: number;
  readonly metadata: HexBytes;
}

/** `Allocation { bytes32 destination; uint256 amount; uint8 allocationType; bytes metadata; }`. */
export interface Allocation {
  readonly destination: Destination;
  /** Token base units. */
  readonly amount: bigint;
  /** uint8, one of {@link AllocationType}. */
  readonly allocationType: number;
  /** Empty for a simple allocation; the encoded {@link GuaranteeMetadata} for a guarantee. */
  readonly metadata: HexBytes;
}

/** `SingleAssetExit { address asset; AssetMetadata assetMetadata; Allocation[] allocations; }`. */
export interface SingleAssetExit {
  /** The ERC-20 token, or the zero address for the chain's native asset. */
  readonly asset: Address;
  readonly assetMetadata: AssetMetadata;
  /** In payout order: when the channel holds less than they sum to, the first are paid first. */
  readonly allocations: readonly Allocation[];
}

/** An outcome: one exit per asset. */
export type Exit = readonly SingleAssetExit[];

/** The part of a state that changes with each update. */
export interface VariablePart {
  readonly outcome: Exit;
  readonly appData: HexBytes;
  /** uint48: grows with each new state. */
  readonly turnNum: number;
  readonly isFinal: boolean;
}

/** A whole state: what a participant signs (through its hash). */
export interface NitroState {
  readonly fixedPart: FixedPart;
  readonly variablePart: VariablePart;
}

/** `Signature { uint8 v; bytes32 r; bytes32 s; }`, the struct the adjudicator takes. */
export interface NitroSignature {
  /** 27 or 28. */
  readonly v: number;
  readonly r: `0x${string}`;
  readonly s: `0x${string}`;
}

/** `SignedVariablePart { VariablePart variablePart; Signature[] sigs; }`. */
export interface SignedVariablePart {
  readonly variablePart: VariablePart;
  readonly sigs: readonly NitroSignature[];
}

/**
 * A guarantee's metadata (MultiAssetHolder's `Guarantee { bytes32 left; bytes32 right; }`): on
 * reclaim, the target channel's first allocation goes back to `left` and its second to `right`.
 */
export interface GuaranteeMetadata {
  readonly left: Destination;
  readonly right: Destination;
}

/**
 * A VirtualPaymentApp voucher: the payer (participants[0]) owes the payee `amount` in all, in
 * the virtual channel `channelId`. Cumulative: a newer voucher carries a larger amount.
 */
export interface Voucher {
  readonly channelId: ChannelId;
  /** uint256, token base units. */
  readonly amount: bigint;
}

/** A voucher and the payer's signature, `r‖s‖v` (65 bytes, v 27/28). */
export interface SignedVoucher {
  readonly voucher: Voucher;
  readonly signature: Uint8Array;
}

/** What the adjudicator keeps per channel (StatusManager's `statusOf`, unpacked). */
export interface NitroChannelStatus {
  /** uint48: the highest turn the adjudicator knows to be supported. */
  readonly turnNumRecord: number;
  /** uint48: when the channel finalizes (unix seconds); 0 while it is open. */
  readonly finalizesAt: number;
  /** uint160: the last 160 bits of keccak256(abi.encode(stateHash, outcomeHash)). */
  readonly fingerprint: bigint;
}
