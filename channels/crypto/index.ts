/**
 * Balance-proof cryptography: keccak256, signature formats, secp256k1 backends (native
 * libsecp256k1 with a pure-JS fallback), signing, synchronous verification, and the worker pool.
 */
export { normalizeAddress, publicKeyToAddress } from "./address.ts";
export type { BackendName, Secp256k1Backend } from "./backend.ts";
export { cachedDomain, domainKey, sameDomain } from "./domain-cache.ts";
export { keccak256 } from "./keccak.ts";
export { availableBackends, loadBackend } from "./load-backend.ts";
export type { ParsedSignature, SignatureFormatCode } from "./signature.ts";
export {
  parseSignature,
  SECP256K1_N,
  toCompactSignature,
  toFullSignature,
} from "./signature.ts";
export type { ProofSigner } from "./signer.ts";
export { createSigner, signBalanceProof } from "./signer.ts";
export type {
  ProofVerifierOptions,
  SignatureCheck,
  SignatureErrorCode,
  VerifyMode,
} from "./verifier.ts";
export { ProofVerifier } from "./verifier.ts";
export type { CumulativeCheck, VerifyJob, VerifyPoolOptions } from "./verify-pool.ts";
export { VerifyPool } from "./verify-pool.ts";
