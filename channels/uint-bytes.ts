/**
 * Unsigned integers as big-endian bytes, the way Solidity packs uint64 and uint256: the wire
 * frames, the verifier's job records and the store all use them. Amounts and nonces are almost
 * always below 2^53, so those take a path of plain numbers: a bigint shift or mask allocates,
 * and at tens of thousands of proofs a second that garbage shows up as collector pauses.
 */

const UINT64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 2 ** 32;

/** Writes `v` (< 2^64) as 8 big-endian bytes at `off`. */
export function writeUint64BE(buf: Buffer, off: number, v: bigint): void {
  if (v <= MAX_SAFE) {
    const n = Number(v);
    buf.writeUInt32BE(Math.floor(n / TWO_32), off);
    buf.writeUInt32BE(n >>> 0, off + 4);
    return;
  }
  buf.writeBigUInt64BE(v, off);
}

/** Writes `v` (< 2^256) as 32 big-endian bytes at `off`. */
export function writeUint256BE(buf: Buffer, off: number, v: bigint): void {
  if (v <= MAX_SAFE) {
    buf.fill(0, off, off + 24);
    writeUint64BE(buf, off + 24, v);
    return;
  }
  buf.writeBigUInt64BE(v >> 192n, off);
  buf.writeBigUInt64BE((v >> 128n) & UINT64_MAX, off + 8);
  buf.writeBigUInt64BE((v >> 64n) & UINT64_MAX, off + 16);
  buf.writeBigUInt64BE(v & UINT64_MAX, off + 24);
}

/** Reads 8 big-endian bytes at `off`. */
export function readUint64BE(buf: Buffer, off: number): bigint {
  const hi = buf.readUInt32BE(off);
  if (hi < 0x200000) return BigInt(hi * TWO_32 + buf.readUInt32BE(off + 4));
  return buf.readBigUInt64BE(off);
}

/** Reads 32 big-endian bytes at `off`. */
export function readUint256BE(buf: Buffer, off: number): bigint {
  if (
    buf.readUInt32BE(off) === 0 &&
    buf.readUInt32BE(off + 4) === 0 &&
    buf.readUInt32BE(off + 8) === 0 &&
    buf.readUInt32BE(off + 12) === 0 &&
    buf.readUInt32BE(off + 16) === 0 &&
    buf.readUInt32BE(off + 20) === 0
  ) {
    return readUint64BE(buf, off + 24);
  }
  return (
    (buf.readBigUInt64BE(off) << 192n) |
    (buf.readBigUInt64BE(off + 8) << 128n) |
    (buf.readBigUInt64BE(off + 16) << 64n) |
    buf.readBigUInt64BE(off + 24)
  );
}
