/**
 * tollway channels: EIP-712 balance proofs and typed data (encode, sign, verify, the one worker
 * pool), the pure channel state machine, the durable group-committing store, the settlement
 * interface with its backends, and the dispute machine with its watcher shell. See
 * docs/architecture.md.
 */

export type { ErrorDetails, TollwayErrorJson, TollwayErrorOptions } from "./base-error.ts";
export { isTollwayError, jsonSafeDetails, shortMessageOf, TollwayError } from "./base-error.ts";
export type { ChainErrorCode, ChainErrorDetails } from "./chain/errors.ts";
export { ChainError, isChainError, isRpcOutage } from "./chain/errors.ts";
export type {
  ChainClientOptions,
  ChannelParticipants,
  OpenedChannel,
  RetryPolicy,
  TxOutcome,
} from "./chain/index.ts";
export {
  ChainClient,
  connectChain,
  loadArtifact,
  MAX_SETTLE_WINDOW_SECONDS,
  MIN_SETTLE_WINDOW_SECONDS,
  providerFor,
  waitForReceipt,
  withRetry,
} from "./chain/index.ts";
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
export type { ProofPosition } from "./proof-order.ts";
export { compareProofs } from "./proof-order.ts";
export type {
  ChainBlock,
  ChainChannelClosed,
  ChainChannelOpened,
  ChainChannelSettled,
  ChainDeposited,
  ChainEvent,
  ChainNow,
  ChainProofUpdated,
  ChainSendClose,
  ChainSendCooperativeClose,
  ChainSendDeposit,
  ChainSendOpen,
  ChainSendSettle,
  ChainSendUpdateProof,
  ChannelRef,
  ChannelView,
  ClosedChannelTx,
  ClosingChannelView,
  CommittedState,
  MemoryChainOptions,
  OpenChannelView,
  OpenedChannelTx,
  PaymentChannelsOptions,
  PaymentProof,
  ResolvedChannel,
  SendOutcomes,
  SettlementBackend,
  SettlementEffect,
  SettlementErrorCode,
  SettlementResult,
  SettlementTx,
  SignedPaymentProof,
} from "./settlement/index.ts";
export {
  asChannelRef,
  computePayouts,
  isSettlementError,
  MAX_CHANNEL_REF_BYTES,
  MemoryChain,
  PaymentChannelsSettlement,
  paymentChannelsSettlement,
  SettlementError,
} from "./settlement/index.ts";
export type { SignedBalanceProof } from "./signed.ts";
export type {
  BatchWinners,
  ChainDeposits,
  ChannelEffect,
  ChannelInput,
  ChannelParams,
  ChannelState,
  ChannelStatus,
  TransitionContext,
  TransitionResult,
} from "./state/index.ts";
export {
  balanceOf,
  batchWinners,
  createChannel,
  precheckReceivedProof,
  syncDeposits,
  transition,
  validateReceivedProof,
} from "./state/index.ts";
export type { ChannelStoreOptions, Migration, StoreStats } from "./store/index.ts";
export { ChannelStore, SCHEMA_VERSION } from "./store/index.ts";
export type { Address, BalanceProof, ChannelDomain, ChannelId, Role, Settlement } from "./types.ts";
export { asChannelId } from "./types.ts";
export { readUint64BE, readUint256BE, writeUint64BE, writeUint256BE } from "./uint-bytes.ts";
export type {
  WatchedChannel,
  WatcherEffect,
  WatcherInput,
  WatcherOptions,
  WatcherState,
} from "./watcher/index.ts";
export {
  initialWatcherState,
  readChannelHistory,
  startWatcher,
  Watcher,
  WatcherStore,
  watcherTransition,
} from "./watcher/index.ts";
