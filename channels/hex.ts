/** 0x-hex and bytes: the one conversion every part uses (wire fields, digests, ABI values). */

/**
 * The bytes of 0x-hex.
 * @throws TypeError when it is not 0x-prefixed hex of whole bytes.
 */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new TypeError("not 0x-hex of whole bytes");
  }
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}

/** Bytes as lowercase 0x-hex. */
export function bytesToHex(b: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}`;
}
