/** The market's HTTP API, push stream, EIP-712 typed data and verifier workers. */
export { type MarketServerOptions, buildMarketServer } from "./server.ts";
export { MarketService, type MarketServiceOptions, type Subscriber } from "./market-service.ts";
export {
  domainSeparator,
  MARKET_TYPES,
  type MarketDomain,
  type MarketTypeName,
  marketDomain,
  offerMessage,
  requestMessage,
  toHex,
  type TypedMessage,
  typedDigest,
} from "./typed-data.ts";
export { type Verified, VerifyPool } from "./verify-pool.ts";
