/**
 * Signatures and what they sign: keccak256, the EIP-712 encoder (balance proofs, settlements and
 * any flat struct, such as the market's orders), signature formats, secp256k1 backends (native
 * libsecp256k1 with a pure-JS fallback), signing, synchronous verification, and the one worker
 * pool that verifies every kind of job.
 */
export { normalizeAddress, publicKeyToAddress } from "./address.ts";
export type { BackendName, Secp256k1Backend } from "./backend.ts";
export { cachedDomain, cachedSeparator, domainKey, sameDomain } from "./domain-cache.ts";
export type { Eip712Domain, StructField, StructType, TypedDomain } from "./eip712.ts";
export {
  BALANCE_PROOF,
  balanceProofDigest,
  domainSeparator,
  eip712Domain,
  hashStruct,
  SETTLEMENT,
  settlementDigest,
  structType,
  typedDataDigest,
} from "./eip712.ts";
export type { TypedDataCheck, TypedDataJob } from "./job-typed-data.ts";
export { keccak256, keccak256Hex } from "./keccak.ts";
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
export type { CumulativeCheck, PoolLoad, VerifyJob, VerifyPoolOptions } from "./verify-pool.ts";
export { VerifyPool } from "./verify-pool.ts";
