/** The market's HTTP API, push stream and EIP-712 typed data (verified by channels' pool). */

export {
  DEFAULT_MAX_RESTING_PER_OWNER,
  MarketService,
  type MarketServiceOptions,
  type Subscriber,
} from "./market-service.ts";
export {
  buildMarketServer,
  DEFAULT_PER_IP_LIMIT,
  DEFAULT_PER_KEY_LIMIT,
  type MarketServerOptions,
  type RateBudget,
} from "./server.ts";
export {
  MARKET_TYPES,
  type MarketDomain,
  type MarketTypeName,
  marketDomain,
  offerMessage,
  requestMessage,
  type TypedMessage,
  typedDigest,
} from "./typed-data.ts";
