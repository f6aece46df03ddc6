/** Big-endian uint64/uint256 bytes: the number fast paths agree with plain bigint arithmetic. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  readUint64BE,
  readUint256BE,
  writeUint64BE,
  writeUint256BE,
} from "../../channels/uint-bytes.ts";

/** The obvious encoding, one byte at a time. */
function reference(v: bigint, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

// Values around every boundary the fast paths switch at, and anything up to the type's maximum.
const near = (bits: number) =>
  fc.bigInt({ min: -3n, max: 3n }).map((d) => (1n << BigInt(bits)) + d);
const uint = (bits: number) =>
  fc
    .oneof(
      fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
      ...[21, 32, 53, 64, 128].filter((b) => b < bits).map(near),
      fc.constantFrom(0n, (1n << BigInt(bits)) - 1n),
    )
    .filter((v) => v >= 0n && v < 1n << BigInt(bits));

describe("uint bytes", () => {
  it.each([
    [64, writeUint64BE, readUint64BE],
    [256, writeUint256BE, readUint256BE],
  ] as const)("writes and reads uint%i as the reference does (property)", (bits, write, read) => {
    const bytes = bits / 8;
    fc.assert(
      fc.property(uint(bits), fc.integer({ min: 0, max: 5 }), (v, off) => {
        const buf = Buffer.alloc(off + bytes, 0xaa);
        write(buf, off, v);
        expect(buf.subarray(off)).toEqual(reference(v, bytes));
        expect(read(buf, off)).toBe(v);
      }),
      { numRuns: 2_000 },
    );
  });
});
