/**
 * The channel state machine: one channel, both directions, as a pure
 * `transition(state, input, ctx) -> { state, effects }`, with its inputs, effects and rules.
 */
export {
  balanceOf,
  depositOf,
  sentBy,
} from "./balances.ts";
export type {
  ChannelParams,
  ChannelState,
  ChannelStatus,
  OnChainClose,
  Payouts,
  PendingSettlement,
} from "./channel-state.ts";
export { addressOf, createChannel, otherRole } from "./channel-state.ts";
export type { ChainDeposits } from "./deposits.ts";
export { syncDeposits } from "./deposits.ts";
export type {
  ChannelEffect,
  InvalidReceivedBalanceProof,
  InvalidReceivedChainEvent,
  InvalidReceivedSettlement,
  NotifyActionRejected,
  NotifyChannelClosed,
  NotifyChannelOpened,
  NotifyChannelSettled,
  NotifyDeposit,
  NotifyPaymentReceived,
  NotifySettlementSigned,
  SendBalanceProof,
  SendSettlementProposal,
  SendSettlementSignature,
} from "./effects.ts";
export type {
  ActionPay,
  ActionProposeSettlement,
  ChainChannelClosed,
  ChainChannelOpened,
  ChainChannelSettled,
  ChainDeposited,
  ChannelInput,
  ReceiveBalanceProof,
  ReceiveSettlementProposal,
  ReceiveSettlementSignature,
} from "./inputs.ts";
export type { BatchWinners } from "./proof-batch.ts";
export { batchWinners } from "./proof-batch.ts";
export type { TransitionContext, TransitionResult } from "./transition.ts";
export { transition } from "./transition.ts";
export { precheckReceivedProof, validateReceivedProof } from "./validate.ts";
