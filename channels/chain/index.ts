/** The on-chain client for PaymentChannels: typed, retrying, nonce-ordered, any RPC. */
export type { ContractArtifact } from "./artifacts.ts";
export { contractsInterface, loadArtifact } from "./artifacts.ts";
export type { ChainClientOptions } from "./client.ts";
export { ChainClient, connectChain, PERMIT_TYPES, providerFor } from "./client.ts";
export type { ChainErrorCode } from "./errors.ts";
export { ChainError, isChainError } from "./errors.ts";
export { NonceLane } from "./nonce-lane.ts";
export type { RetryPolicy } from "./retry.ts";
export { DEFAULT_RETRY, isTransient, withRetry } from "./retry.ts";
export type {
  ChannelParticipants,
  ClosingState,
  OnChainChannel,
  OpenedChannel,
  TxOutcome,
} from "./types.ts";
