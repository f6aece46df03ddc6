/**
 * Nitro's ABI encodings, exactly as the deployed contracts compute them: the channel id
 * (NitroUtils.getChannelId), the state hash (NitroUtils.hashState), the outcome and its hash
 * (ExitFormat.encodeExit), a guarantee's metadata, destinations, and the adjudicator's packed
 * per-channel status (StatusManager). Pure; every field is checked against its Solidity type
 * first, so that a value the contract could not have been given is never hashed.
 */
import { AbiCoder } from "ethers";
import { keccak256Hex } from "../../crypto/keccak.ts";
import { type Address, asChannelId, type ChannelId } from "../../types.ts";
import type {
  Allocation,
  Destination,
  Exit,
  FixedPart,
  GuaranteeMetadata,
  HexBytes,
  NitroChannelStatus,
  SingleAssetExit,
  VariablePart,
} from "./types.ts";

const abi = AbiCoder.defaultAbiCoder();

/** ABI type of `ExitFormat.Allocation`. */
export const ALLOCATION_ABI =
  "tuple(bytes32 destination, uint256 amount, uint8 allocationType, bytes metadata)";
/** ABI type of `ExitFormat.SingleAssetExit`. */
export const SINGLE_ASSET_EXIT_ABI = `tuple(address asset, tuple(uint8 assetType, bytes metadata) assetMetadata, ${ALLOCATION_ABI}[] allocations)`;
/** ABI type of an outcome (`SingleAssetExit[]`). */
export const EXIT_ABI = `${SINGLE_ASSET_EXIT_ABI}[]`;

const ZERO_PADDING = "0".repeat(24);
const UINT160_MASK = (1n << 160n) - 1n;
const UINT48_MAX = 2 ** 48 - 1;

/**
 * The channel id: keccak256(abi.encode(participants, channelNonce, appDefinition,
 * challengeDuration)), four arguments, not one tuple.
 * @throws TypeError when a field is outside its Solidity type.
 */
export function nitroChannelId(fixedPart: FixedPart): ChannelId {
  checkFixedPart(fixedPart);
  const encoded = abi.encode(
    ["address[]", "uint64", "address", "uint48"],
    [
      fixedPart.participants.map(lower),
      fixedPart.channelNonce,
      lower(fixedPart.appDefinition),
      fixedPart.challengeDuration,
    ],
  );
  return asChannelId(keccak256Hex(encoded));
}

/**
 * The state hash every signature is over: keccak256(abi.encode(channelId, appData, outcome,
 * turnNum, isFinal)).
 * @throws TypeError when a field is outside its Solidity type.
 */
export function hashNitroState(fixedPart: FixedPart, variablePart: VariablePart): `0x${string}` {
  return hashVariablePart(nitroChannelId(fixedPart), variablePart);
}

/**
 * The state hash for a channel id already derived (a caller that hashes many states of one
 * channel derives the id once).
 * @throws TypeError when a field is outside its Solidity type.
 */
export function hashVariablePart(channelId: ChannelId, variablePart: VariablePart): `0x${string}` {
  bytes32("channelId", channelId);
  hexBytes("appData", variablePart.appData);
  uint("turnNum", variablePart.turnNum, 48);
  if (typeof variablePart.isFinal !== "boolean") throw new TypeError("isFinal is not a boolean");
  const encoded = abi.encode(
    ["bytes32", "bytes", EXIT_ABI, "uint48", "bool"],
    [
      channelId,
      variablePart.appData,
      exitArg(variablePart.outcome),
      variablePart.turnNum,
      variablePart.isFinal,
    ],
  );
  return keccak256Hex(encoded);
}

/**
 * An outcome as the adjudicator takes it in `transfer` and `reclaim` (`abi.encode(exit)`).
 * @throws TypeError when a field is outside its Solidity type.
 */
export function encodeExit(outcome: Exit): HexBytes {
  return abi.encode([EXIT_ABI], [exitArg(outcome)]) as HexBytes;
}

/**
 * The outcome hash the adjudicator stores in a channel's fingerprint (NitroUtils.hashOutcome).
 * @throws TypeError when a field is outside its Solidity type.
 */
export function hashExit(outcome: Exit): `0x${string}` {
  return keccak256Hex(encodeExit(outcome));
}

/**
 * Decodes an encoded outcome (as a `ChallengeRegistered` log or a peer carries it).
 * @throws TypeError when the bytes are not an encoded outcome.
 */
export function decodeExit(encoded: HexBytes): Exit {
  hexBytes("outcome", encoded);
  let decoded: unknown;
  try {
    decoded = abi.decode([EXIT_ABI], encoded)[0];
  } catch (cause) {
    throw new TypeError("not an encoded outcome", { cause });
  }
  const exit = (decoded as readonly unknown[]).map((e): SingleAssetExit => {
    const [asset, [assetType, assetMetadata], allocations] = e as [
      string,
      [bigint, string],
      readonly [string, bigint, bigint, string][],
    ];
    return {
      asset: lower(asset),
      assetMetadata: { assetType: Number(assetType), metadata: assetMetadata as HexBytes },
      allocations: allocations.map(
        ([destination, amount, allocationType, metadata]): Allocation => ({
          destination: destination.toLowerCase() as Destination,
          amount,
          allocationType: Number(allocationType),
          metadata: metadata as HexBytes,
        }),
      ),
    };
  });
  // ethers ignores trailing bytes and takes non-canonical offsets; the adjudicator fingerprints
  // the exact bytes, so only the one encoding of an outcome is one.
  if (encodeExit(exit).toLowerCase() !== encoded.toLowerCase()) {
    throw new TypeError("not the canonical encoding of an outcome");
  }
  return exit;
}

/**
 * A guarantee's metadata: abi.encode(Guarantee { left, right }), 64 bytes.
 * @throws TypeError when a destination is not 32 bytes.
 */
export function encodeGuarantee(g: GuaranteeMetadata): HexBytes {
  bytes32("left", g.left);
  bytes32("right", g.right);
  return abi.encode(["bytes32", "bytes32"], [g.left, g.right]) as HexBytes;
}

/** Reads a guarantee's metadata, or `undefined` when it is not exactly one. */
export function decodeGuarantee(metadata: HexBytes): GuaranteeMetadata | undefined {
  if (!/^0x[0-9a-fA-F]{128}$/.test(metadata)) return undefined;
  const m = metadata.toLowerCase();
  return { left: `0x${m.slice(2, 66)}`, right: `0x${m.slice(66)}` };
}

/** The destination of an external address: the address left-padded to 32 bytes. */
export function destinationOf(address: Address): Destination {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new TypeError(`not an address: ${address}`);
  return `0x${ZERO_PADDING}${address.slice(2).toLowerCase()}`;
}

/** The address an external destination pays, or `undefined` for a channel (or malformed). */
export function addressOfDestination(destination: Destination): Address | undefined {
  if (!/^0x[0-9a-fA-F]{64}$/.test(destination)) return undefined;
  if (destination.slice(2, 26) !== ZERO_PADDING) return undefined;
  return `0x${destination.slice(26).toLowerCase()}`;
}

/** The last 160 bits of keccak256(abi.encode(stateHash, outcomeHash)), as StatusManager keeps it. */
export function statusFingerprint(stateHash: `0x${string}`, outcomeHash: `0x${string}`): bigint {
  bytes32("stateHash", stateHash);
  bytes32("outcomeHash", outcomeHash);
  return (
    BigInt(keccak256Hex(abi.encode(["bytes32", "bytes32"], [stateHash, outcomeHash]))) &
    UINT160_MASK
  );
}

/**
 * A channel's `statusOf` word: turnNumRecord (48 bits) ‖ finalizesAt (48) ‖ fingerprint (160).
 * @throws TypeError when a field is outside its width.
 */
export function packNitroStatus(status: NitroChannelStatus): `0x${string}` {
  uint("turnNumRecord", status.turnNumRecord, 48);
  uint("finalizesAt", status.finalizesAt, 48);
  uint("fingerprint", status.fingerprint, 160);
  const word =
    (BigInt(status.turnNumRecord) << 208n) |
    (BigInt(status.finalizesAt) << 160n) |
    status.fingerprint;
  return `0x${word.toString(16).padStart(64, "0")}`;
}

/**
 * Unpacks a `statusOf` word.
 * @throws TypeError when it is not 32 bytes of hex.
 */
export function unpackNitroStatus(word: `0x${string}`): NitroChannelStatus {
  bytes32("status", word);
  const w = BigInt(word);
  return {
    turnNumRecord: Number(w >> 208n),
    finalizesAt: Number((w >> 160n) & BigInt(UINT48_MAX)),
    fingerprint: w & UINT160_MASK,
  };
}

/** The outcome as the ABI coder takes it, after checking every field. */
function exitArg(outcome: Exit): unknown[] {
  if (!Array.isArray(outcome)) throw new TypeError("an outcome is an array of exits");
  return outcome.map((e: SingleAssetExit, i) => {
    address(`outcome[${i}].asset`, e.asset);
    uint(`outcome[${i}].assetMetadata.assetType`, e.assetMetadata.assetType, 8);
    hexBytes(`outcome[${i}].assetMetadata.metadata`, e.assetMetadata.metadata);
    return [
      lower(e.asset),
      [e.assetMetadata.assetType, e.assetMetadata.metadata],
      e.allocations.map((a, j) => {
        const at = `outcome[${i}].allocations[${j}]`;
        bytes32(`${at}.destination`, a.destination);
        uint(`${at}.amount`, a.amount, 256);
        uint(`${at}.allocationType`, a.allocationType, 8);
        hexBytes(`${at}.metadata`, a.metadata);
        return [a.destination, a.amount, a.allocationType, a.metadata];
      }),
    ];
  });
}

function checkFixedPart(f: FixedPart): void {
  if (!Array.isArray(f.participants)) throw new TypeError("participants is not an array");
  f.participants.forEach((p, i) => {
    address(`participants[${i}]`, p);
  });
  uint("channelNonce", f.channelNonce, 64);
  address("appDefinition", f.appDefinition);
  uint("challengeDuration", f.challengeDuration, 48);
}

function uint(name: string, v: bigint | number, bits: number): void {
  const ok =
    typeof v === "bigint"
      ? v >= 0n && v < 1n << BigInt(bits)
      : Number.isSafeInteger(v) && v >= 0 && (bits > 52 || v < 2 ** bits);
  if (!ok) throw new TypeError(`${name} is not a uint${bits}: ${String(v)}`);
}

function address(name: string, v: string): void {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) {
    throw new TypeError(`${name} is not an address: ${String(v)}`);
  }
}

function bytes32(name: string, v: string): void {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(v)) {
    throw new TypeError(`${name} is not 32 bytes of hex: ${String(v)}`);
  }
}

function hexBytes(name: string, v: string): void {
  if (typeof v !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(v)) {
    throw new TypeError(`${name} is not 0x-hex of whole bytes`);
  }
}

/** ethers rejects a mixed-case address whose checksum is wrong; tollway compares lowercase. */
function lower(a: string): Address {
  return a.toLowerCase() as Address;
}
