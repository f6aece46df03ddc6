/** The on-chain client for PaymentChannels: typed, retrying, nonce-ordered, any RPC, every call bounded. */
export type { ContractArtifact } from "./artifacts.ts";
export { contractsInterface, loadArtifact } from "./artifacts.ts";
export type { ChainClientOptions } from "./client.ts";
export { ChainClient, connectChain, PERMIT_TYPES } from "./client.ts";
export type { ChainErrorCode, ChainErrorDetails } from "./errors.ts";
export { ChainError, isChainError, isRpcOutage } from "./errors.ts";
export { NonceLane } from "./nonce-lane.ts";
export type { ReceiptWait } from "./receipt.ts";
export {
  DEFAULT_INCLUSION_TIMEOUT_MS,
  DEFAULT_RECEIPT_POLL_MS,
  waitForReceipt,
} from "./receipt.ts";
export type { RetryPolicy } from "./retry.ts";
export { DEFAULT_RETRY, isTransient, withRetry } from "./retry.ts";
export { rpcCall } from "./rpc-call.ts";
export type { RpcProviderOptions } from "./rpc-provider.ts";
export {
  DEFAULT_MAX_RPC_RESPONSE_BYTES,
  DEFAULT_RPC_TIMEOUT_MS,
  providerFor,
  redactRpcUrl,
  TimedJsonRpcProvider,
} from "./rpc-provider.ts";
export { MAX_SETTLE_WINDOW_SECONDS, MIN_SETTLE_WINDOW_SECONDS } from "./settle-window.ts";
export type {
  ChainTime,
  ChannelParticipants,
  OnChainChannel,
  OpenedChannel,
  SettleWindowBounds,
  TxOutcome,
} from "./types.ts";
