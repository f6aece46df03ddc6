/**
 * Parsing and canonical forms of Ethereum ECDSA signatures, with exactly the acceptance rules of
 * OpenZeppelin's ECDSA.tryRecover (what PaymentChannels.sol uses): 65-byte `r‖s‖v` with v 27/28,
 * or 64-byte EIP-2098 `r‖yParityAndS`; r in [1, n), s in [1, n/2] (high-s is malleable).
 */
import { type Result, reject } from "../errors.ts";

/** The secp256k1 group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const N_BYTES = Uint8Array.from(Buffer.from(SECP256K1_N.toString(16), "hex"));
const HALF_N_BYTES = Uint8Array.from(Buffer.from((SECP256K1_N >> 1n).toString(16), "hex"));

/** The codes a malformed signature is rejected with, before any curve arithmetic. */
export type SignatureFormatCode =
  | "SIGNATURE_LENGTH"
  | "SIGNATURE_BAD_V"
  | "SIGNATURE_HIGH_S"
  | "SIGNATURE_RANGE";

/** Numeric form of `SignatureFormatCode` for the allocation-free parser (worker hot path). */
export const SIG_ERR_LENGTH = -1;
export const SIG_ERR_BAD_V = -2;
export const SIG_ERR_HIGH_S = -3;
export const SIG_ERR_RANGE = -4;

/** Maps a negative result of `parseSignatureInto` to its code. */
export function signatureErrorCode(n: number): SignatureFormatCode {
  switch (n) {
    case SIG_ERR_LENGTH:
      return "SIGNATURE_LENGTH";
    case SIG_ERR_BAD_V:
      return "SIGNATURE_BAD_V";
    case SIG_ERR_HIGH_S:
      return "SIGNATURE_HIGH_S";
    default:
      return "SIGNATURE_RANGE";
  }
}

/**
 * Parses `buf[off, off + len)` into the 64-byte compact `r‖s` form at `compact[0, 64)`.
 * @returns the recovery id (0 or 1), or a negative `SIG_ERR_*` value.
 */
export function parseSignatureInto(
  buf: Uint8Array,
  off: number,
  len: number,
  compact: Uint8Array,
): number {
  let recid: number;
  if (len === 65) {
    const v = buf[off + 64]!;
    // ecrecover only knows 27 and 28; 0/1 and EIP-155 values are not signatures on chain.
    if (v !== 27 && v !== 28) return SIG_ERR_BAD_V;
    recid = v - 27;
    compact.set(buf.subarray(off, off + 64), 0);
  } else if (len === 64) {
    compact.set(buf.subarray(off, off + 64), 0);
    recid = compact[32]! >>> 7;
    compact[32] = compact[32]! & 0x7f;
  } else {
    return SIG_ERR_LENGTH;
  }
  // r = 0 or r >= n recovers nothing on chain; s = 0 likewise.
  if (isZero(compact, 0) || compareBytes(compact, 0, N_BYTES) >= 0) return SIG_ERR_RANGE;
  if (isZero(compact, 32)) return SIG_ERR_RANGE;
  // s > n/2 is the malleable twin of a valid signature: the contract rejects it, so do we.
  if (compareBytes(compact, 32, HALF_N_BYTES) > 0) return SIG_ERR_HIGH_S;
  return recid;
}

/** A signature in compact form with its recovery id. */
export interface ParsedSignature {
  /** `r‖s`, 64 bytes, s low. */
  readonly compact: Uint8Array;
  /** y parity of R: 0 or 1 (v − 27). */
  readonly recid: number;
}

/**
 * Parses a 65- or 64-byte signature.
 * @returns the compact form, or a rejection with a `SignatureFormatCode`.
 */
export function parseSignature(sig: Uint8Array): Result<ParsedSignature, SignatureFormatCode> {
  const compact = new Uint8Array(64);
  const r = parseSignatureInto(sig, 0, sig.length, compact);
  if (r < 0) return reject(signatureErrorCode(r), `malformed signature (${sig.length} bytes)`);
  return { ok: true, value: { compact, recid: r } };
}

/**
 * Converts a 65-byte `r‖s‖v` signature to the 64-byte EIP-2098 form (and back with
 * `toFullSignature`); no validation beyond the length.
 * @throws TypeError when the input is not 65 bytes with v 27/28.
 */
export function toCompactSignature(sig65: Uint8Array): Uint8Array {
  if (sig65.length !== 65 || (sig65[64] !== 27 && sig65[64] !== 28)) {
    throw new TypeError("expected a 65-byte signature with v 27/28");
  }
  const out = sig65.slice(0, 64);
  if (sig65[64] === 28) out[32] = out[32]! | 0x80;
  return out;
}

/**
 * Converts a 64-byte EIP-2098 signature to the 65-byte `r‖s‖v` form.
 * @throws TypeError when the input is not 64 bytes.
 */
export function toFullSignature(sig64: Uint8Array): Uint8Array {
  if (sig64.length !== 64) throw new TypeError("expected a 64-byte signature");
  const out = new Uint8Array(65);
  out.set(sig64, 0);
  out[64] = 27 + (sig64[32]! >>> 7);
  out[32] = out[32]! & 0x7f;
  return out;
}

function isZero(b: Uint8Array, off: number): boolean {
  for (let i = off; i < off + 32; i++) if (b[i] !== 0) return false;
  return true;
}

function compareBytes(a: Uint8Array, off: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = a[off + i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}
