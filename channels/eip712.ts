/**
 * EIP-712 digests for BalanceProof and Settlement, byte for byte what PaymentChannels.sol hashes.
 *
 * Type hashes are constants and the domain separator is computed once per domain, so a digest is
 * one keccak over 128 bytes: no per-call schema walking.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
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
  const struct = new Uint8Array(128);
  struct.set(BALANCE_PROOF_TYPEHASH, 0);
  writeBytes32(struct, 32, proof.channelId);
  writeUint(struct, 64, proof.nonce, UINT64_MAX, "nonce");
  writeUint(struct, 96, proof.transferred, UINT256_MAX, "transferred");
  return typedDataDigest(d, keccak_256(struct));
}

/**
 * The digest both participants sign to settle a channel cooperatively.
 * @throws TypeError when a field is out of its Solidity type's range.
 */
export function settlementDigest(d: Eip712Domain, settlement: Settlement): Uint8Array {
  const struct = new Uint8Array(128);
  struct.set(SETTLEMENT_TYPEHASH, 0);
  writeBytes32(struct, 32, settlement.channelId);
  writeUint(struct, 64, settlement.payoutA, UINT256_MAX, "payoutA");
  writeUint(struct, 96, settlement.payoutB, UINT256_MAX, "payoutB");
  return typedDataDigest(d, keccak_256(struct));
}

function typedDataDigest(d: Eip712Domain, structHash: Uint8Array): Uint8Array {
  const buf = new Uint8Array(66);
  buf[0] = 0x19;
  buf[1] = 0x01;
  buf.set(d.separator, 2);
  buf.set(structHash, 34);
  return keccak_256(buf);
}

function writeUint(buf: Uint8Array, offset: number, value: bigint, max: bigint, field: string) {
  if (typeof value !== "bigint" || value < 0n || value > max) {
    throw new TypeError(`${field} out of range: ${String(value)}`);
  }
  let v = value;
  for (let i = offset + 31; i >= offset && v > 0n; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function writeBytes32(buf: Uint8Array, offset: number, hex: ChannelId) {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new TypeError(`not a bytes32: ${hex}`);
  buf.set(hexBytes(hex), offset);
}

function writeAddress(buf: Uint8Array, offset: number, hex: Address) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(hex)) throw new TypeError(`not an address: ${hex}`);
  buf.set(hexBytes(hex), offset + 12);
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}
