/**
 * EIP-712, the one encoder of tollway: flat structs of `address`, `bytes32`, `string` and
 * `uintN` fields under a domain, for the channels' BalanceProof and Settlement (byte for byte what
 * PaymentChannels.sol hashes), the market's orders, and any other such struct.
 *
 * A message is first written as a *struct record*: its encodeData words, with each string's
 * UTF-8 bytes appended after the words instead of its hash in place. `hashStructRecord` then
 * hashes each string into its word, in place, and the struct. The main thread writes a record into
 * a scratch buffer and hashes it at once; the verifier pool writes records into its job buffers,
 * so that its workers do the hashing, off the event loop. Either way one implementation, with the
 * keccak of crypto/keccak.ts (no allocation but the 32-byte result), and no per-call schema
 * walking beyond the fields: type hashes are computed once, when a struct type is defined.
 *
 * Struct record layout:
 *
 * | bytes           | field                                                        |
 * | --------------- | ------------------------------------------------------------ |
 * | 0               | n, the number of fields (1..MAX_FIELDS)                      |
 * | 1               | m, the number of string fields                               |
 * | 2..34           | type hash                                                    |
 * | 34..34+32n      | encodeData words (a string's word is filled in by hashing)   |
 * | then, m times   | field index (1 byte), byte length (4, big-endian), UTF-8     |
 */
import type { BalanceProof, ChannelDomain, Settlement } from "../types.ts";
import { writeUint256BE } from "../uint-bytes.ts";
import { keccak256 } from "./keccak.ts";

/** Most fields a struct may have: its record holds counts and field indexes in one byte. */
export const MAX_FIELDS = 255;

/** One field of a struct, in ethers' `types` format. */
export interface StructField {
  readonly name: string;
  /** `address`, `bytes32`, `string`, or `uint8` … `uint256`. */
  readonly type: string;
}

/** A struct type, compiled once: its fields, type hash and how each field is written. */
export interface StructType {
  readonly name: string;
  readonly fields: readonly StructField[];
  /** keccak256 of `Name(type1 field1,…)`. */
  readonly typeHash: Uint8Array;
  /** How each field is written, in field order. */
  readonly codecs: readonly FieldCodec[];
  /** Number of string fields. */
  readonly strings: number;
}

/** How one field is written into a record; `max` bounds a uint (as a bigint and a number). */
export interface FieldCodec {
  readonly kind: "address" | "bytes32" | "string" | "uint";
  readonly max: bigint;
  readonly maxNumber: number;
}

const utf8 = new TextEncoder();
const UINT_RE = /^uint(\d+)$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const BYTES32_RE = /^0x[0-9a-fA-F]{64}$/;
const TWO_32 = 2 ** 32;

/**
 * Defines a flat struct type.
 * @throws TypeError for a field type other than address, bytes32, string or uint8…uint256, or
 *   more than MAX_FIELDS fields.
 * @example
 * const Rating = structType("Rating", [{ name: "dealId", type: "string" }, { name: "score", type: "uint8" }]);
 */
export function structType(name: string, fields: readonly StructField[]): StructType {
  if (fields.length === 0 || fields.length > MAX_FIELDS) {
    throw new TypeError(`${name}: a struct has 1 to ${MAX_FIELDS} fields`);
  }
  const codecs = fields.map((f): FieldCodec => {
    if (f.type === "address" || f.type === "bytes32" || f.type === "string") {
      return { kind: f.type, max: 0n, maxNumber: 0 };
    }
    const bits = Number(UINT_RE.exec(f.type)?.[1]);
    if (!(bits >= 8 && bits <= 256 && bits % 8 === 0)) {
      throw new TypeError(`${name}.${f.name}: unsupported type ${f.type}`);
    }
    const max = (1n << BigInt(bits)) - 1n;
    return { kind: "uint", max, maxNumber: Number(max < 2n ** 53n ? max : 2n ** 53n - 1n) };
  });
  const signature = `${name}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`;
  return {
    name,
    fields,
    typeHash: keccak256(utf8.encode(signature)),
    codecs,
    strings: codecs.filter((c) => c.kind === "string").length,
  };
}

/** Upper bound on the bytes `writeStructRecord` writes for `msg`. */
export function structRecordSize(type: StructType, msg: object): number {
  let size = 34 + 32 * type.fields.length;
  if (type.strings === 0) return size;
  const values = msg as Readonly<Record<string, unknown>>;
  for (let i = 0; i < type.fields.length; i++) {
    if (type.codecs[i]!.kind !== "string") continue;
    const v = values[type.fields[i]!.name];
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    size += 5 + (typeof v === "string" ? 3 * v.length : 0);
  }
  return size;
}

/**
 * Writes the struct record of `msg` at `buf[o]` (the buffer must hold `structRecordSize` bytes).
 * @returns the record's end, or `-(i + 1)` when field `i` does not fit its type (the record is
 *   then unusable); never throws, so a pool can refuse bad input without an exception.
 */
export function writeStructRecord(buf: Buffer, o: number, type: StructType, msg: object): number {
  const { fields, codecs } = type;
  const values = msg as Readonly<Record<string, unknown>>;
  writeStructHeader(buf, o, type);
  let tail = o + 34 + 32 * fields.length;
  for (let i = 0; i < fields.length; i++) {
    const c = codecs[i]!;
    const v = values[fields[i]!.name];
    const at = o + 34 + 32 * i;
    if (c.kind === "string") {
      if (typeof v !== "string") return -(i + 1);
      const len = buf.write(v, tail + 5, "utf8");
      buf[tail] = i;
      buf.writeUInt32BE(len, tail + 1);
      tail += 5 + len;
    } else if (
      !(c.kind === "uint"
        ? writeUint(buf, at, v, c)
        : c.kind === "bytes32"
          ? writeBytes32(buf, at, v)
          : writeAddress(buf, at, v))
    ) {
      return -(i + 1);
    }
  }
  return tail;
}

/** Writes the first 34 bytes of a struct record of `type` (field counts and type hash). */
export function writeStructHeader(buf: Buffer, o: number, type: StructType): void {
  buf[o] = type.fields.length;
  buf[o + 1] = type.strings;
  buf.set(type.typeHash, o + 2);
}

function writeUint(buf: Buffer, at: number, v: unknown, c: FieldCodec): boolean {
  if (typeof v === "bigint") {
    if (v < 0n || v > c.max) return false;
    writeUint256BE(buf, at, v);
    return true;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > c.maxNumber) return false;
  buf.fill(0, at, at + 24);
  buf.writeUInt32BE(Math.floor(v / TWO_32), at + 24);
  buf.writeUInt32BE(v >>> 0, at + 28);
  return true;
}

function writeBytes32(buf: Buffer, at: number, v: unknown): boolean {
  if (typeof v !== "string" || !BYTES32_RE.test(v)) return false;
  buf.write(v.slice(2), at, "hex");
  return true;
}

function writeAddress(buf: Buffer, at: number, v: unknown): boolean {
  if (typeof v !== "string" || !ADDRESS_RE.test(v)) return false;
  buf.fill(0, at, at + 12);
  buf.write(v.slice(2), at + 12, "hex");
  return true;
}

/**
 * Hashes the struct record at `buf[o, end)`: each string into its word (in place), then the
 * struct, into `out[outOff, outOff + 32)`.
 * @returns the record's end, or -1 when the bytes are not a well-formed record.
 */
export function hashStructRecord(
  buf: Buffer,
  o: number,
  end: number,
  out: Uint8Array,
  outOff: number,
): number {
  if (end - o < 34) return -1;
  const n = buf[o]!;
  const m = buf[o + 1]!;
  const words = o + 34;
  const wordsEnd = words + 32 * n;
  if (n === 0 || n > MAX_FIELDS || m > n || wordsEnd > end) return -1;
  let p = wordsEnd;
  for (let k = 0; k < m; k++) {
    if (end - p < 5) return -1;
    const i = buf[p]!;
    const len = buf.readUInt32BE(p + 1);
    const start = p + 5;
    if (i >= n || len > end - start) return -1;
    keccak256(buf, buf, words + 32 * i, start, start + len);
    p = start + len;
  }
  keccak256(buf, out, outOff, o + 2, wordsEnd);
  return p;
}

// `0x1901 ‖ domain separator ‖ struct hash`; digests are computed synchronously, so one buffer
// per thread is safe.
const outer = new Uint8Array(66);
outer[0] = 0x19;
outer[1] = 0x01;

/**
 * The EIP-712 digest of the struct record at `buf[o, end)` under the domain separator at
 * `separator[sepOff, sepOff + 32)`, into `digest[0, 32)`.
 * @returns the record's end, or -1 when the bytes are not a well-formed record.
 */
export function recordDigest(
  separator: Uint8Array,
  sepOff: number,
  buf: Buffer,
  o: number,
  end: number,
  digest: Uint8Array,
): number {
  for (let i = 0; i < 32; i++) outer[2 + i] = separator[sepOff + i]!;
  const p = hashStructRecord(buf, o, end, outer, 34);
  if (p >= 0) keccak256(outer, digest, 0);
  return p;
}

// The main thread's records; grown for long strings, never past SCRATCH_MAX.
const SCRATCH_MAX = 1 << 16;
let scratch = Buffer.alloc(1024);
/** The buffer the last `writeRecord` wrote into. */
let written = scratch;

/** Writes `msg`'s record into `written` (a scratch buffer); returns the record's end. */
function writeRecord(type: StructType, msg: object): number {
  const size = structRecordSize(type, msg);
  written = scratch;
  if (size > written.length) {
    written = Buffer.alloc(size);
    if (size <= SCRATCH_MAX) scratch = written;
  }
  const end = writeStructRecord(written, 0, type, msg);
  if (end < 0) {
    const f = type.fields[-end - 1]!;
    const v = (msg as Readonly<Record<string, unknown>>)[f.name];
    throw new TypeError(`${type.name}.${f.name} does not fit ${f.type}: ${String(v)}`);
  }
  return end;
}

/**
 * hashStruct(msg): keccak256(typeHash ‖ encodeData(msg)).
 * @throws TypeError when a field does not fit its type.
 */
export function hashStruct(type: StructType, msg: object): Uint8Array {
  const end = writeRecord(type, msg);
  const out = new Uint8Array(32);
  hashStructRecord(written, 0, end, out, 0);
  return out;
}

/**
 * The digest a signer signs: keccak256(0x1901 ‖ separator ‖ hashStruct(msg)).
 * @param separator - the domain's separator (`domainSeparator`)
 * @throws TypeError when a field does not fit its type.
 */
export function typedDataDigest(separator: Uint8Array, type: StructType, msg: object): Uint8Array {
  const end = writeRecord(type, msg);
  const out = new Uint8Array(32);
  recordDigest(separator, 0, written, 0, end, out);
  return out;
}

/** An EIP-712 domain; `verifyingContract` is part of it only when given. */
export interface TypedDomain {
  readonly name: string;
  readonly version: string;
  readonly chainId: bigint | number;
  readonly verifyingContract?: string;
}

const DOMAIN_FIELDS: readonly StructField[] = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
];
const DOMAIN = structType("EIP712Domain", DOMAIN_FIELDS);
const DOMAIN_WITH_CONTRACT = structType("EIP712Domain", [
  ...DOMAIN_FIELDS,
  { name: "verifyingContract", type: "address" },
]);

/**
 * The domain separator: hashStruct(EIP712Domain) over the fields the domain has.
 * @throws TypeError when the chain id or contract address is malformed.
 */
export function domainSeparator(domain: TypedDomain): Uint8Array {
  return hashStruct(domain.verifyingContract === undefined ? DOMAIN : DOMAIN_WITH_CONTRACT, domain);
}

/** `BalanceProof(bytes32 channelId,uint64 nonce,uint256 transferred)`, signed by the sender. */
export const BALANCE_PROOF = structType("BalanceProof", [
  { name: "channelId", type: "bytes32" },
  { name: "nonce", type: "uint64" },
  { name: "transferred", type: "uint256" },
]);

const UINT64 = BALANCE_PROOF.codecs[1]!;
const UINT256 = BALANCE_PROOF.codecs[2]!;

/**
 * The encodeData words of a balance proof at `buf[at, at + 96)`: the struct record of
 * BALANCE_PROOF is `writeStructHeader` then these, byte for byte what `writeStructRecord` writes,
 * without the walk over the fields (the provider writes one per proof it receives).
 * @returns false when a field does not fit its type
 */
export function writeBalanceProofWords(buf: Buffer, at: number, proof: BalanceProof): boolean {
  return (
    writeBytes32(buf, at, proof.channelId) &&
    writeUint(buf, at + 32, proof.nonce, UINT64) &&
    writeUint(buf, at + 64, proof.transferred, UINT256)
  );
}

/** `Settlement(bytes32 channelId,uint256 payoutA,uint256 payoutB)`, signed by both. */
export const SETTLEMENT = structType("Settlement", [
  { name: "channelId", type: "bytes32" },
  { name: "payoutA", type: "uint256" },
  { name: "payoutB", type: "uint256" },
]);

/** Precomputed EIP-712 state for one (chain, contract) pair. */
export interface Eip712Domain {
  readonly domain: ChannelDomain;
  /** The separator of `{ name: "tollway", version: "1", chainId, verifyingContract }`. */
  readonly separator: Uint8Array;
}

/**
 * Precomputes the domain separator of a PaymentChannels deployment.
 * @throws TypeError when the chain id or address is malformed.
 */
export function eip712Domain(domain: ChannelDomain): Eip712Domain {
  if (typeof domain.chainId !== "bigint") throw new TypeError("chainId must be a bigint");
  const separator = domainSeparator({
    name: "tollway",
    version: "1",
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  });
  return { domain, separator };
}

/**
 * The digest a participant signs for a balance proof.
 * @throws TypeError when a field is out of its Solidity type's range.
 */
export function balanceProofDigest(d: Eip712Domain, proof: BalanceProof): Uint8Array {
  return typedDataDigest(d.separator, BALANCE_PROOF, proof);
}

/**
 * The digest both participants sign to settle a channel cooperatively.
 * @throws TypeError when a field is out of its Solidity type's range.
 */
export function settlementDigest(d: Eip712Domain, settlement: Settlement): Uint8Array {
  return typedDataDigest(d.separator, SETTLEMENT, settlement);
}
