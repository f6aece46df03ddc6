/**
 * The secp256k1 operations tollway needs, behind one interface so that the implementation is
 * chosen by measurement (bench/proofs.ts) and a pure-JS one can stand in where the native
 * binding cannot load. Backends do curve arithmetic only: signature format rules (v, high-s,
 * ranges) are checked once, before them, in `signature.ts`, so every backend accepts and rejects
 * the same signatures.
 */

/** Names of the available implementations. */
export type BackendName = "native" | "noble" | "elliptic";

/** A secp256k1 implementation. All digests are 32 bytes; signatures are compact `r‖s`. */
export interface Secp256k1Backend {
  readonly name: BackendName;
  /** Signs a digest deterministically (RFC 6979) with a low s. */
  sign(digest: Uint8Array, privateKey: Uint8Array): { compact: Uint8Array; recid: number };
  /** Recovers the public key (33 or 65 bytes), or null when the signature has no valid point. */
  recover(
    compact: Uint8Array,
    recid: number,
    digest: Uint8Array,
    compressed: boolean,
  ): Uint8Array | null;
  /** Plain ECDSA verification against a public key; does not check the recovery id. */
  verify(compact: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
  /** The public key of a private key. */
  publicKey(privateKey: Uint8Array, compressed: boolean): Uint8Array;
}
