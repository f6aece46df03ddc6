/** The roles tollway runs, as a library: a market, a provider and a requester. */
export type { CloseOutcome, OpenChannelFound } from "./channel-actions.ts";
export { ChannelActionError, closeWithProof, openChannelsTo } from "./channel-actions.ts";
export type { ControlRequest, ControlResponse } from "./control-protocol.ts";
export { MAX_CONTROL_REQUEST_BYTES, parseControlRequest } from "./control-protocol.ts";
export type { ControlHandlers, ControlLimits, ControlServer } from "./control-server.ts";
export { startControlServer } from "./control-server.ts";
export type {
  DealChannel,
  DealChannelEnd,
  DealChannelErrorCode,
  DealChannelOpened,
  DealChannelOptions,
  DealServer,
  DealSessionOptions,
  DealTimeouts,
} from "./deal-channel.ts";
export {
  createDealChannel,
  DealChannelError,
  serveDeals,
  startServingDeals,
} from "./deal-channel.ts";
export type { AccountLayout, MigrationReport } from "./layout.ts";
export { accountLayout, legacyStoreDirs, migrateLegacyStores } from "./layout.ts";
export type { ChainCapacity, RunningMarket } from "./market.ts";
export { chainCapacity, createMarket, readChainId } from "./market.ts";
export type { DealView } from "./market-client.ts";
export { MarketApiError, MarketClient } from "./market-client.ts";
export type { NodeServices, NodeServicesOptions } from "./node-services.ts";
export { startNodeServices } from "./node-services.ts";
export { proxyOffer, proxyRequest } from "./order-specs.ts";
export type {
  PaymentChannelsAccount,
  PaymentChannelsAccountOptions,
  TokenInfo,
} from "./payment-channels.ts";
export { connectPaymentChannels } from "./payment-channels.ts";
export type { Provider, ProviderOptions } from "./provider.ts";
export { createProvider } from "./provider.ts";
export type { Requester, RequesterChannel, RequesterOptions } from "./requester.ts";
export { createRequester, waitForAcks } from "./requester.ts";
