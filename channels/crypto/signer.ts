/** Signing balance proofs and settlements with a participant's key. */

import type { SignedBalanceProof } from "../signed.ts";
import type { Address, BalanceProof, ChannelDomain, Settlement } from "../types.ts";
import { publicKeyToAddress } from "./address.ts";
import type { Secp256k1Backend } from "./backend.ts";
import { cachedDomain } from "./domain-cache.ts";
import { balanceProofDigest, type Eip712Domain, settlementDigest } from "./eip712.ts";
import { loadBackend } from "./load-backend.ts";

/**
 * A participant's signing key. Deterministic (RFC 6979): the same message always gets the same
 * signature, so a replayed transition that signs yields the same bytes.
 */
export interface ProofSigner {
  /** The signer's address, lowercase. */
  readonly address: Address;
  /** Signs a balance proof; returns `r‖s‖v` (65 bytes, v 27/28, low s). */
  signBalanceProof(domain: ChannelDomain | Eip712Domain, proof: BalanceProof): Uint8Array;
  /** Signs a cooperative settlement; returns `r‖s‖v`. */
  signSettlement(domain: ChannelDomain | Eip712Domain, settlement: Settlement): Uint8Array;
  /** Signs a 32-byte digest; returns `r‖s‖v`. */
  signDigest(digest: Uint8Array): Uint8Array;
}

/**
 * Creates a signer from a 32-byte private key.
 * @param privateKey - 32-byte secp256k1 private key
 * @param backend - secp256k1 implementation (default: the fastest that loads)
 * @throws TypeError when the key is not a valid secp256k1 private key.
 * @example
 * const alice = createSigner(privateKey);
 * const signed = signBalanceProof(alice, domain, { channelId, nonce: 1n, transferred: 10n });
 */
export function createSigner(
  privateKey: Uint8Array,
  backend: Secp256k1Backend = loadBackend(),
): ProofSigner {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
    throw new TypeError("a private key is 32 bytes");
  }
  const key = Uint8Array.from(privateKey);
  let address: Address;
  try {
    address = publicKeyToAddress(backend.publicKey(key, false));
  } catch (err) {
    throw new TypeError("not a valid secp256k1 private key", { cause: err });
  }
  const signDigest = (digest: Uint8Array): Uint8Array => {
    const { compact, recid } = backend.sign(digest, key);
    const out = new Uint8Array(65);
    out.set(compact, 0);
    out[64] = 27 + recid;
    return out;
  };
  return {
    address,
    signDigest,
    signBalanceProof: (domain, proof) =>
      signDigest(balanceProofDigest(cachedDomain(domain), proof)),
    signSettlement: (domain, settlement) =>
      signDigest(settlementDigest(cachedDomain(domain), settlement)),
  };
}

/**
 * Signs a balance proof and pairs it with its signature.
 * @throws TypeError when a field is out of its Solidity type's range.
 */
export function signBalanceProof(
  signer: ProofSigner,
  domain: ChannelDomain | Eip712Domain,
  proof: BalanceProof,
): SignedBalanceProof {
  return { proof, signature: signer.signBalanceProof(domain, proof) };
}
