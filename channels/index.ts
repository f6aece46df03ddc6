/**
 * tollway channels: EIP-712 balance proofs and typed data (encode, sign, verify, the one worker
 * pool), the pure channel state machine, and the durable group-committing store. See DESIGN.md,
 * "Channels".
 */
export type {
  BackendName,
  CumulativeCheck,
  Eip712Domain,
  PoolLoad,
  ProofSigner,
  ProofVerifierOptions,
  Secp256k1Backend,
  SignatureCheck,
  SignatureErrorCode,
  StructField,
  StructType,
  TypedDataCheck,
  TypedDataJob,
  TypedDomain,
  VerifyJob,
  VerifyMode,
  VerifyPoolOptions,
} from "./crypto/index.ts";
export {
  availableBackends,
  BALANCE_PROOF,
  balanceProofDigest,
  cachedDomain,
  cachedSeparator,
  createSigner,
  domainSeparator,
  eip712Domain,
  hashStruct,
  keccak256,
  keccak256Hex,
  loadBackend,
  normalizeAddress,
  ProofVerifier,
  parseSignature,
  publicKeyToAddress,
  SETTLEMENT,
  sameDomain,
  settlementDigest,
  signBalanceProof,
  structType,
  toCompactSignature,
  toFullSignature,
  typedDataDigest,
  VerifyPool,
} from "./crypto/index.ts";
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
