/**
 * Fixed-size binary records that carry verification jobs to the worker threads: one transferable
 * buffer per batch instead of one structured-clone object per proof. Layout of a record:
 *
 * | bytes     | field                                                     |
 * | --------- | --------------------------------------------------------- |
 * | 0..32     | EIP-712 domain separator                                  |
 * | 32..128   | struct fields: channelId, nonce/payoutA, transferred/payoutB (32 bytes each) |
 * | 128       | signature length (64 or 65; anything else is rejected)    |
 * | 129..194  | signature bytes                                           |
 * | 194..214  | expected signer address                                   |
 * | 214       | kind: 0 balance proof, 1 settlement                       |
 */
import { BALANCE_PROOF_TYPEHASH, type Eip712Domain, SETTLEMENT_TYPEHASH } from "../eip712.ts";
import type { Address, BalanceProof, ChannelId } from "../types.ts";
import { writeUint256BE } from "../uint-bytes.ts";
import { keccak256 } from "./keccak.ts";

/** Bytes per job record. */
export const JOB_SIZE = 224;
/** Kind byte of a balance-proof job. */
export const KIND_BALANCE_PROOF = 0;
/** Kind byte of a settlement job. */
export const KIND_SETTLEMENT = 1;

const UINT64_MAX = (1n << 64n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;
const HEX64 = /^0x[0-9a-fA-F]{64}$/;
const HEX40 = /^0x[0-9a-fA-F]{40}$/;

/**
 * Writes a balance-proof job at record `index` of `buf`.
 * @returns false when a field cannot be encoded (out of its Solidity range or malformed); the
 *   record is then left unusable and the caller rejects the job with VALUE_OUT_OF_RANGE.
 */
export function encodeProofJob(
  buf: Buffer,
  index: number,
  domain: Eip712Domain,
  proof: BalanceProof,
  signature: Uint8Array,
  expectedSigner: Address,
): boolean {
  const o = index * JOB_SIZE;
  const { channelId, nonce, transferred } = proof;
  if (typeof channelId !== "string" || !HEX64.test(channelId)) return false;
  if (typeof nonce !== "bigint" || nonce < 0n || nonce > UINT64_MAX) return false;
  if (typeof transferred !== "bigint" || transferred < 0n || transferred > UINT256_MAX) {
    return false;
  }
  if (typeof expectedSigner !== "string" || !HEX40.test(expectedSigner)) return false;
  buf.set(domain.separator, o);
  buf.write((channelId as ChannelId).slice(2), o + 32, "hex");
  writeUint256BE(buf, o + 64, nonce);
  writeUint256BE(buf, o + 96, transferred);
  const len = signature instanceof Uint8Array ? signature.length : 0;
  buf[o + 128] = len === 64 || len === 65 ? len : 0;
  if (len === 64 || len === 65) buf.set(signature, o + 129);
  buf.write(expectedSigner.slice(2), o + 194, "hex");
  buf[o + 214] = KIND_BALANCE_PROOF;
  return true;
}

const struct = new Uint8Array(128);
const outer = new Uint8Array(66);
outer[0] = 0x19;
outer[1] = 0x01;

/** Computes the EIP-712 digest of record `index` into `digest` (32 bytes). */
export function jobDigest(buf: Uint8Array, index: number, digest: Uint8Array): void {
  const o = index * JOB_SIZE;
  struct.set(buf[o + 214] === KIND_SETTLEMENT ? SETTLEMENT_TYPEHASH : BALANCE_PROOF_TYPEHASH, 0);
  struct.set(buf.subarray(o + 32, o + 128), 32);
  outer.set(buf.subarray(o, o + 32), 2);
  keccak256(struct, outer, 34);
  keccak256(outer, digest, 0);
}
