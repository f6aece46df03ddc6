/** The roles tollway runs, as a library: a market, a provider and a requester. */
export type { RunningMarket } from "./market.ts";
export { createMarket, readChainId } from "./market.ts";
export type { DealView } from "./market-client.ts";
export { MarketApiError, MarketClient } from "./market-client.ts";
export { proxyOffer, proxyRequest } from "./order-specs.ts";
export type { Provider, ProviderOptions } from "./provider.ts";
export { createProvider } from "./provider.ts";
export type { Requester, RequesterChannel, RequesterOptions } from "./requester.ts";
export { createRequester, waitForAcks } from "./requester.ts";
