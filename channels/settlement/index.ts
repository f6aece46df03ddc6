/**
 * The settlement interface (go-nitro's `ChainService` is the model): a feed of chain events with
 * a cursor the consumer keeps, `send` for the `ChainSend*` effects the cores emit, channel reads,
 * opaque channel references for the wire, and the payment-proof abstraction every backend's
 * proofs satisfy. Two backends: PaymentChannels through the chain client, and an in-memory chain
 * with the same semantics for the cores' tests. Beside them, Nitro's state, exit format,
 * signatures and vouchers as nitro-protocol v2's contracts read them, and its artifacts.
 */
export type {
  ChainNow,
  ChannelView,
  ClosedChannelTx,
  ClosingChannelView,
  OpenChannelView,
  OpenedChannelTx,
  ResolvedChannel,
  SendOutcomes,
  SettlementBackend,
  SettlementTx,
} from "./backend.ts";
export type { ChannelRef } from "./channel-ref.ts";
export { asChannelRef, MAX_CHANNEL_REF_BYTES } from "./channel-ref.ts";
export {
  committedAtClose,
  computePayouts,
  heldProof,
  roleOf,
  withProofUpdate,
} from "./committed.ts";
export type {
  ChainSendClose,
  ChainSendCooperativeClose,
  ChainSendDeposit,
  ChainSendOpen,
  ChainSendSettle,
  ChainSendUpdateProof,
  SettlementEffect,
} from "./effects.ts";
export type { SettlementErrorCode, SettlementResult } from "./errors.ts";
export { isSettlementError, SettlementError } from "./errors.ts";
export type {
  ChainBlock,
  ChainChannelClosed,
  ChainChannelOpened,
  ChainChannelSettled,
  ChainDeposited,
  ChainEvent,
  ChainProofUpdated,
} from "./events.ts";
export type { MemoryChainOptions } from "./memory/memory-chain.ts";
export { MemoryChain } from "./memory/memory-chain.ts";
export type { NitroArtifact, NitroContractName } from "./nitro/artifacts.ts";
export { loadNitroArtifact, NITRO_PACKAGE } from "./nitro/artifacts.ts";
export {
  ALLOCATION_ABI,
  addressOfDestination,
  decodeExit,
  decodeGuarantee,
  destinationOf,
  EXIT_ABI,
  encodeExit,
  encodeGuarantee,
  hashExit,
  hashNitroState,
  hashVariablePart,
  nitroChannelId,
  packNitroStatus,
  SINGLE_ASSET_EXIT_ABI,
  statusFingerprint,
  unpackNitroStatus,
} from "./nitro/encoding.ts";
export type {
  DirectDefundParams,
  DirectDefundState,
} from "./nitro/protocols/direct-defund.ts";
export { directDefundTransition, startDirectDefund } from "./nitro/protocols/direct-defund.ts";
export type { DirectFundParams, DirectFundState } from "./nitro/protocols/direct-fund.ts";
export {
  depositWindow,
  directFundTransition,
  exitTotal,
  fullyFunded,
  startDirectFund,
} from "./nitro/protocols/direct-fund.ts";
export type {
  ChainNitroHoldings,
  ChainSendNitroConcludeAndTransfer,
  ChainSendNitroDeposit,
  HoldingsSeen,
  InvalidReceivedNitroInput,
  NotifyObjectiveCompleted,
  ObjectiveContext,
  ObjectiveEffect,
  ObjectiveInput,
  ObjectiveRejectionCode,
  ObjectiveResult,
  ReceiveNitroState,
  SendNitroState,
} from "./nitro/protocols/objective.ts";
export { NO_HOLDINGS } from "./nitro/protocols/objective.ts";
export {
  challengeDigest,
  checkStateSignature,
  ethereumMessageDigest,
  fromNitroSignature,
  signChallenge,
  signedVariablePart,
  signState,
  stateDigest,
  toNitroSignature,
} from "./nitro/signatures.ts";
export type {
  Allocation,
  AssetMetadata,
  Destination,
  Exit,
  FixedPart,
  GuaranteeMetadata,
  HexBytes,
  NitroChannelStatus,
  NitroSignature,
  NitroState,
  SignedVariablePart,
  SignedVoucher,
  SingleAssetExit,
  VariablePart,
  Voucher,
} from "./nitro/types.ts";
export { AllocationType, AssetType } from "./nitro/types.ts";
export {
  checkVoucher,
  decodeVoucherAppData,
  encodeVoucherAppData,
  signVoucher,
  VOUCHER_APP_DATA_ABI,
  voucherDigest,
  voucherProof,
} from "./nitro/voucher.ts";
export type { PaymentChannelsOptions } from "./payment-channels/backend.ts";
export {
  PaymentChannelsSettlement,
  paymentChannelsSettlement,
} from "./payment-channels/backend.ts";
export type { PaymentProof, SignedPaymentProof } from "./payment-proof.ts";
