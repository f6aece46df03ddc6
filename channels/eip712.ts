/**
 * EIP-712 digests for BalanceProof and Settlement, byte for byte what PaymentChannels.sol hashes.
 *
 * Type hashes are constants and the domain separator is computed once per domain, so a digest is
 * one keccak over 128 bytes and one over 66: no per-call schema walking, and the keccak is the
 * short-input one of crypto/keccak.ts (no allocation but the 32-byte result).
 */
import { keccak256 as keccak_256 } from "./crypto/keccak.ts";
import type { Address, BalanceProof, ChannelDomain, ChannelId, Settlement } from "./types.ts";

const utf8 = new TextEncoder();

/** keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)") */
export const DOMAIN_TYPEHASH = keccak_256(
  utf8.encode("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
);
/** keccak256("BalanceProof(bytes32 channelId,uint64 nonce,uint256 transferred)") */
export const BALANCE_PROOF_TYPEHASH = keccak_256(
  utf8.encode("BalanceProof(bytes32 channelId,uint64 nonce,uint256 transferred)"),
);
/** keccak256("Settlement(bytes32 channelId,uint256 payoutA,uint256 payoutB)") */
export const SETTLEMENT_TYPEHASH = keccak_256(
  utf8.encode("Settlement(bytes32 channelId,uint256 payoutA,uint256 payoutB)"),
);

/** The domain's name and version, fixed for every deployment. */
export const DOMAIN_NAME = "tollway";
export const DOMAIN_VERSION = "1";

const NAME_HASH = keccak_256(utf8.encode(DOMAIN_NAME));
const VERSION_HASH = keccak_256(utf8.encode(DOMAIN_VERSION));
const UINT64_MAX = (1n << 64n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;

/** Precomputed EIP-712 state for one (chain, contract) pair. */
export interface Eip712Domain {
  readonly domain: ChannelDomain;
  /** keccak256(abi.encode(DOMAIN_TYPEHASH, name, version, chainId, verifyingContract)) */
  readonly separator: Uint8Array;
}

/**
 * Precomputes the domain separator for a deployment.
 * @throws TypeError when the chain id or address is malformed.
 */
export function eip712Domain(domain: ChannelDomain): Eip712Domain {
  const buf = new Uint8Array(160);
  buf.set(DOMAIN_TYPEHASH, 0);
  buf.set(NAME_HASH, 32);
  buf.set(VERSION_HASH, 64);
  writeUint(buf, 96, domain.chainId, UINT256_MAX, "chainId");
  writeAddress(buf, 128, domain.verifyingContract);
  return { domain, separator: keccak_256(buf) };
}

/**
 * The digest a participant signs for a balance proof.
 * @throws TypeError when a field is out of its Solidity type's range.
 */
export function balanceProofDigest(d: Eip712Domain, proof: BalanceProof): Uint8Array {
  const struct = scratch128;
  struct.set(BALANCE_PROOF_TYPEHASH, 0);
  writeBytes32(struct, 32, proof.channelId);
  writeUint(struct, 64, proof.nonce, UINT64_MAX, "nonce");
  writeUint(struct, 96, proof.transferred, UINT256_MAX, "transferred");
  return typedDataDigest(d, struct);
}

/**
 * The digest both participants sign to settle a channel cooperatively.
 * @throws TypeError when a field is out of its Solidity type's range.
 */
export function settlementDigest(d: Eip712Domain, settlement: Settlement): Uint8Array {
  const struct = scratch128;
  struct.set(SETTLEMENT_TYPEHASH, 0);
  writeBytes32(struct, 32, settlement.channelId);
  writeUint(struct, 64, settlement.payoutA, UINT256_MAX, "payoutA");
  writeUint(struct, 96, settlement.payoutB, UINT256_MAX, "payoutB");
  return typedDataDigest(d, struct);
}

// Digests are computed synchronously, so one scratch buffer per module is safe and saves two
// allocations per proof.
const scratch128 = Buffer.alloc(128);
const scratch66 = new Uint8Array(66);
scratch66[0] = 0x19;
scratch66[1] = 0x01;

function typedDataDigest(d: Eip712Domain, struct: Uint8Array): Uint8Array {
  scratch66.set(d.separator, 2);
  keccak_256(struct, scratch66, 34);
  return keccak_256(scratch66);
}

function writeUint(buf: Uint8Array, offset: number, value: bigint, max: bigint, field: string) {
  if (typeof value !== "bigint" || value < 0n || value > max) {
    throw new TypeError(`${field} out of range: ${String(value)}`);
  }
  if (value <= 0xffffffffn) {
    buf.fill(0, offset, offset + 28);
    const n = Number(value);
    buf[offset + 28] = n >>> 24;
    buf[offset + 29] = (n >>> 16) & 0xff;
    buf[offset + 30] = (n >>> 8) & 0xff;
    buf[offset + 31] = n & 0xff;
    return;
  }
  const view = new DataView(buf.buffer, buf.byteOffset + offset, 32);
  view.setBigUint64(0, value >> 192n);
  view.setBigUint64(8, (value >> 128n) & 0xffffffffffffffffn);
  view.setBigUint64(16, (value >> 64n) & 0xffffffffffffffffn);
  view.setBigUint64(24, value & 0xffffffffffffffffn);
}

const BYTES32_RE = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

function writeBytes32(buf: Uint8Array, offset: number, hex: ChannelId) {
  if (typeof hex !== "string" || !BYTES32_RE.test(hex))
    throw new TypeError(`not a bytes32: ${hex}`);
  writeHex(buf, offset, hex);
}

function writeAddress(buf: Uint8Array, offset: number, hex: Address) {
  if (typeof hex !== "string" || !ADDRESS_RE.test(hex)) {
    throw new TypeError(`not an address: ${hex}`);
  }
  buf.fill(0, offset, offset + 12);
  writeHex(buf, offset + 12, hex);
}

function writeHex(buf: Uint8Array, offset: number, hex: string) {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  b.write(hex.slice(2), offset, "hex");
}
