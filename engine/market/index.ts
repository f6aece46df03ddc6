/**
 * The market: order book and matcher, deal book and protocol, wallets, provider profiles, the
 * level journal, and the HTTP/WebSocket API. Sub-folders hold each part; this file re-exports
 * the names other parts of tollway use.
 */
export {
  buildMarketServer,
  DEFAULT_MAX_RESTING_PER_OWNER,
  DEFAULT_PER_IP_LIMIT,
  DEFAULT_PER_KEY_LIMIT,
  MARKET_TYPES,
  type MarketServerOptions,
  MarketService,
  type MarketServiceOptions,
  marketDomain,
  offerMessage,
  requestMessage,
  typedDigest,
} from "./api/index.ts";
export { Matcher, type OfferInput, type RequestInput } from "./book/index.ts";
export {
  type BookQuery,
  type MarketCommand,
  MarketCore,
  type MarketEvent,
  type OrderRecord,
} from "./core/index.ts";
export { type Deal, type DealStatus, dealTransition, proposeDeal } from "./deals/index.ts";
export {
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  MarketJournal,
} from "./journal/index.ts";
export { type Profile, ratingMilli } from "./profiles/index.ts";
export {
  type Address,
  type DealId,
  MarketError,
  type MarketErrorCode,
  type MarketRejection,
  type MarketResult,
  type OfferSpec,
  type OrderId,
  type OrderSpec,
  type RequestSpec,
} from "./types.ts";
export type { Wallet } from "./wallets/index.ts";
