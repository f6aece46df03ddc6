/** The market core: one deterministic state machine over book, deals, wallets and profiles. */
export {
  type BookQuery,
  type BookRow,
  type MarketCommand,
  type MarketConfig,
  MarketCore,
  type MarketCoreImage,
  type MarketEvent,
  type OrderRecord,
  type OrderStatus,
} from "./market-core.ts";
export { encodeOffer, encodeRequest, Interner, priceToNumber } from "./order-codec.ts";
