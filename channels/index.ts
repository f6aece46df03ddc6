/**
 * tollway channels: EIP-712 balance proofs (sign, verify, worker pool), the pure channel state
 * machine, the durable group-committing store, the PaymentChannels chain client and the dispute
 * watcher. See DESIGN.md, "Channels".
 */
export type {
  ChainClientOptions,
  ChannelParticipants,
  OpenedChannel,
  TxOutcome,
} from "./chain/index.ts";
export { ChainClient, connectChain, providerFor } from "./chain/index.ts";
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
  BatchWinners,
  ChainDeposits,
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
  batchWinners,
  compareProofs,
  computePayouts,
  createChannel,
  precheckReceivedProof,
  syncDeposits,
  transition,
  validateReceivedProof,
} from "./state/index.ts";
export type { ChannelStoreOptions, Migration, StoreStats } from "./store/index.ts";
export { ChannelStore, SCHEMA_VERSION } from "./store/index.ts";
export type { Address, BalanceProof, ChannelDomain, ChannelId, Settlement } from "./types.ts";
export { asChannelId } from "./types.ts";
export type { WatchedChannel } from "./watcher/index.ts";
export { readChannelHistory, startWatcher, Watcher } from "./watcher/index.ts";
