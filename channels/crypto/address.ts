/** Ethereum addresses from public keys, and address normalisation. */
import type { Address } from "../types.ts";
import { keccak256 } from "./keccak.ts";

const hashOut = new Uint8Array(32);

/**
 * The address of an uncompressed (65-byte, 0x04-prefixed) public key, lowercase.
 * @throws TypeError when the key is not 65 bytes.
 */
export function publicKeyToAddress(publicKey: Uint8Array): Address {
  if (publicKey.length !== 65) throw new TypeError("expected an uncompressed 65-byte public key");
  keccak256(publicKey, hashOut, 0, 1, 65);
  return `0x${Buffer.from(hashOut.buffer, 12, 20).toString("hex")}` as Address;
}

/**
 * Lowercases an address after checking its shape (tollway compares addresses lowercased).
 * @throws TypeError when it is not 20 bytes of hex.
 */
export function normalizeAddress(address: string): Address {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new TypeError(`not an address: ${address}`);
  return address.toLowerCase() as Address;
}
