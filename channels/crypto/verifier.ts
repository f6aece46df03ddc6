/**
 * Synchronous signature verification against an expected signer, with the contract's exact
 * acceptance rules. Two strategies, measured in bench/proofs.ts:
 * - "recover": recover the public key, hash it to an address, compare (what ecrecover does);
 * - "cached-key": a channel's participants are known, so after the first successful recovery the
 *   participant's public key is cached and later signatures are checked against it, skipping the
 *   address hash.
 *
 * Why "cached-key" still recovers instead of calling plain ECDSA verify: verify ignores v, so a
 * signature with a flipped v passes verify against the right key, while on chain ecrecover
 * returns another address and the contract rejects it. A proof the receiver cannot use on chain
 * must be rejected here too, so the cached key is compared with the key recovered *with the
 * given v*. libsecp256k1's public API offers no verify that also yields R's parity; the bench
 * reports plain verify alongside, to show what the v check costs.
 */

import { type Result, reject } from "../errors.ts";
import type { Address, BalanceProof, ChannelDomain, Settlement } from "../types.ts";
import { publicKeyToAddress } from "./address.ts";
import type { Secp256k1Backend } from "./backend.ts";
import { cachedDomain } from "./domain-cache.ts";
import { balanceProofDigest, type Eip712Domain, settlementDigest } from "./eip712.ts";
import { loadBackend } from "./load-backend.ts";
import { parseSignatureInto, type SignatureFormatCode, signatureErrorCode } from "./signature.ts";

/** Codes a signature check can fail with. */
export type SignatureErrorCode = SignatureFormatCode | "SIGNER_MISMATCH" | "VALUE_OUT_OF_RANGE";

/** Outcome of checking a signature against its expected signer: the signer, lowercase. */
export type SignatureCheck = Result<Address, SignatureErrorCode>;

/** How a verifier checks the signer (see the module comment). */
export type VerifyMode = "recover" | "cached-key";

/** Options of `ProofVerifier`. */
export interface ProofVerifierOptions {
  /** secp256k1 implementation (default: the fastest that loads). */
  readonly backend?: Secp256k1Backend;
  /** Default "cached-key". */
  readonly mode?: VerifyMode;
}

/**
 * Checks balance-proof and settlement signatures against their expected signers.
 * @example
 * const v = new ProofVerifier();
 * const check = v.verifyBalanceProof(domain, proof, signature, partnerAddress);
 * if (!check.ok) console.log(check.code);
 */
export class ProofVerifier {
  readonly backend: Secp256k1Backend;
  readonly mode: VerifyMode;
  readonly #keys = new Map<string, Uint8Array>();
  readonly #compact = new Uint8Array(64);

  constructor(options: ProofVerifierOptions = {}) {
    this.backend = options.backend ?? loadBackend();
    this.mode = options.mode ?? "cached-key";
  }

  /** Checks a balance proof's signature (65 or 64 bytes) against `expectedSigner`. */
  verifyBalanceProof(
    domain: ChannelDomain | Eip712Domain,
    proof: BalanceProof,
    signature: Uint8Array,
    expectedSigner: Address,
  ): SignatureCheck {
    let digest: Uint8Array;
    try {
      digest = balanceProofDigest(cachedDomain(domain), proof);
    } catch (err) {
      // A field outside its Solidity type cannot have been signed for the contract.
      return reject("VALUE_OUT_OF_RANGE", (err as Error).message);
    }
    return this.checkDigest(digest, signature, expectedSigner);
  }

  /** Checks a settlement signature against `expectedSigner`. */
  verifySettlement(
    domain: ChannelDomain | Eip712Domain,
    settlement: Settlement,
    signature: Uint8Array,
    expectedSigner: Address,
  ): SignatureCheck {
    let digest: Uint8Array;
    try {
      digest = settlementDigest(cachedDomain(domain), settlement);
    } catch (err) {
      return reject("VALUE_OUT_OF_RANGE", (err as Error).message);
    }
    return this.checkDigest(digest, signature, expectedSigner);
  }

  /** Checks a signature over a 32-byte digest against `expectedSigner`. */
  checkDigest(digest: Uint8Array, signature: Uint8Array, expectedSigner: Address): SignatureCheck {
    if (!(signature instanceof Uint8Array)) return reject("SIGNATURE_LENGTH", "not bytes");
    const code = checkSignature(
      this.backend,
      digest,
      signature,
      0,
      signature.length,
      expectedSigner.toLowerCase(),
      this.mode === "cached-key" ? this.#keys : null,
      this.#compact,
    );
    if (code === 0) return { ok: true, value: expectedSigner.toLowerCase() as Address };
    return code === SIGNER_MISMATCH
      ? reject("SIGNER_MISMATCH", `signature is not by ${expectedSigner}`)
      : reject(signatureErrorCode(code), "malformed signature");
  }

  /**
   * Recovers the signer of a digest, as ecrecover would (after the format rules).
   * @returns the lowercase address, or a rejection.
   */
  recoverAddress(digest: Uint8Array, signature: Uint8Array): Result<Address, SignatureErrorCode> {
    const recid = parseSignatureInto(signature, 0, signature.length, this.#compact);
    if (recid < 0) return reject(signatureErrorCode(recid), "malformed signature");
    const pub = this.backend.recover(this.#compact, recid, digest, false);
    if (pub === null) return reject("SIGNER_MISMATCH", "no public key recovers");
    return { ok: true, value: publicKeyToAddress(pub) };
  }
}

/** `checkSignature` result: the signature is well-formed but not by the expected signer. */
export const SIGNER_MISMATCH = -5;

/**
 * The allocation-light core shared by `ProofVerifier` and the pool's workers.
 * @param expected - lowercase expected signer address
 * @param keys - cache of compressed public keys by lowercase address, or null for "recover"
 * @returns 0 when valid, `SIGNER_MISMATCH`, or a negative `SIG_ERR_*` format code.
 */
export function checkSignature(
  backend: Secp256k1Backend,
  digest: Uint8Array,
  sig: Uint8Array,
  sigOff: number,
  sigLen: number,
  expected: string,
  keys: Map<string, Uint8Array> | null,
  compact: Uint8Array,
): number {
  const recid = parseSignatureInto(sig, sigOff, sigLen, compact);
  if (recid < 0) return recid;
  const cached = keys?.get(expected);
  if (cached !== undefined) {
    const pub = backend.recover(compact, recid, digest, true);
    return pub !== null && equalBytes(pub, cached) ? 0 : SIGNER_MISMATCH;
  }
  const pub = backend.recover(compact, recid, digest, false);
  if (pub === null || publicKeyToAddress(pub) !== expected) return SIGNER_MISMATCH;
  if (keys !== null) keys.set(expected, compressPublicKey(pub));
  return 0;
}

/** Compresses a 65-byte public key to 33 bytes. */
export function compressPublicKey(pub65: Uint8Array): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = 2 + (pub65[64]! & 1);
  out.set(pub65.subarray(1, 33), 1);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
