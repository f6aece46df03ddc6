/**
 * The order book and matcher: attribute buckets, price levels, FIFO queues in typed arrays,
 * price-time priority with partial fills. Numbers only; bigint conversion happens at the edge.
 */
export {
  COUNTRY_COUNT,
  countryCode,
  countryName,
  EXIT_POLICIES,
  type ExitPolicy,
  exitPolicyBit,
  IP_CLASSES,
  type IpClass,
  ipClassBit,
  KINDS,
  kindIndex,
  MAX_DURATION_S,
  MAX_PRICE,
  MAX_QUANTITY,
  MAX_RATING_MILLI,
  MIN_DURATION_S,
  maskNames,
  namesMask,
  type OrderKind,
  PRICE_UNITS,
  PROTOCOLS,
  type PriceUnit,
  type Protocol,
  protocolBit,
  unitIndex,
} from "./attributes.ts";
export {
  EFFECT_EXPIRED,
  EFFECT_FILL,
  type ExpiredEffect,
  type FillEffect,
  type MatchEffect,
  MatchEffects,
  readEffects,
} from "./match-effects.ts";
export {
  type BookOrderView,
  checkOffer,
  checkRequest,
  Matcher,
  type MatcherErrorCode,
  type MatcherOptions,
  type MatcherRejection,
  type OfferInput,
  type RequestInput,
} from "./matcher.ts";
export { MAX_SLOTS, SIDE_OFFER, SIDE_REQUEST, SLOT_BITS } from "./order-store.ts";
