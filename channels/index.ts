/**
 * tollway channels: EIP-712 balance proofs (sign, verify, worker pool), the pure channel state
 * machine, and the durable group-committing store. See DESIGN.md, "Channels".
 */

export type { ErrorDetails, TollwayErrorJson, TollwayErrorOptions } from "./base-error.ts";
export { isTollwayError, jsonSafeDetails, shortMessageOf, TollwayError } from "./base-error.ts";
export type { ChainErrorCode, ChainErrorDetails } from "./chain/errors.ts";
export { ChainError, isChainError, isRpcOutage } from "./chain/errors.ts";
export type {
  BackendName,
  CumulativeCheck,
  ProofSigner,
  ProofVerifierOptions,
  Secp256k1Backend,
  SignatureCheck,
  SignatureErrorCode,
  VerifyJob,
  VerifyMode,
  VerifyPoolOptions,
} from "./crypto/index.ts";
export {
  availableBackends,
  cachedDomain,
  createSigner,
  keccak256,
  loadBackend,
  normalizeAddress,
  ProofVerifier,
  parseSignature,
  publicKeyToAddress,
  sameDomain,
  signBalanceProof,
  toCompactSignature,
  toFullSignature,
  VerifyPool,
} from "./crypto/index.ts";
export type { Eip712Domain } from "./eip712.ts";
export { balanceProofDigest, eip712Domain, settlementDigest } from "./eip712.ts";
export type { ChannelErrorCode, Rejection, Result } from "./errors.ts";
export { ChannelError, isChannelError, reject } from "./errors.ts";
export type { SignedBalanceProof } from "./signed.ts";
export type {
  ChannelEffect,
  ChannelInput,
  ChannelParams,
  ChannelState,
  ChannelStatus,
  Role,
  TransitionContext,
  TransitionResult,
} from "./state/index.ts";
export {
  balanceOf,
  compareProofs,
  computePayouts,
  createChannel,
  precheckReceivedProof,
  transition,
  validateReceivedProof,
} from "./state/index.ts";
export type { ChannelStoreOptions, Migration, StoreStats } from "./store/index.ts";
export { ChannelStore, SCHEMA_VERSION } from "./store/index.ts";
export type { Address, BalanceProof, ChannelDomain, ChannelId, Settlement } from "./types.ts";
export { asChannelId } from "./types.ts";
