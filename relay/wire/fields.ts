/**
 * Field encodings shared by the codec and the validators: uint64 as 8 and uint256 as 32
 * big-endian bytes (MessagePack integers stop at 64 bits and decode ambiguously above 2^53),
 * addresses as 20 bytes, channel ids as 32.
 */
import {
  type Address,
  bytesToHex,
  type ChannelId,
  readUint64BE,
  readUint256BE,
  writeUint64BE,
  writeUint256BE,
} from "../../channels/index.ts";

const UINT64_MAX = (1n << 64n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;

/** Encodes a uint64 as 8 big-endian bytes. @throws RangeError when out of range. */
export function u64(value: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  putU64(b, 0, value);
  return b;
}

/** Encodes a uint256 as 32 big-endian bytes. @throws RangeError when out of range. */
export function u256(value: bigint): Buffer {
  const b = Buffer.allocUnsafe(32);
  putU256(b, 0, value);
  return b;
}

/** Writes a uint64 as 8 big-endian bytes at `off`. @throws RangeError when out of range. */
export function putU64(buf: Buffer, off: number, value: bigint): void {
  if (value < 0n || value > UINT64_MAX) throw new RangeError(`uint64 out of range: ${value}`);
  writeUint64BE(buf, off, value);
}

/** Writes a uint256 as 32 big-endian bytes at `off`. @throws RangeError when out of range. */
export function putU256(buf: Buffer, off: number, value: bigint): void {
  if (value < 0n || value > UINT256_MAX) throw new RangeError(`uint256 out of range: ${value}`);
  writeUint256BE(buf, off, value);
}

/** Decodes 8 big-endian bytes. */
export function readU64(b: Uint8Array): bigint {
  return readUint64BE(Buffer.from(b.buffer, b.byteOffset, 8), 0);
}

/** Decodes 32 big-endian bytes. */
export function readU256(b: Uint8Array): bigint {
  return readUint256BE(Buffer.from(b.buffer, b.byteOffset, 32), 0);
}

/** Hex string (0x, lowercase) to bytes. */
export function hexBytes(hex: string): Buffer {
  return Buffer.from(hex.slice(2), "hex");
}

/** A 20-byte field as an address. */
export const toAddress = (b: Uint8Array): Address => bytesToHex(b) as Address;

/** A 32-byte field as a channel id. */
export const toChannelId = (b: Uint8Array): ChannelId => bytesToHex(b) as ChannelId;
