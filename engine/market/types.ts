/** Shared names of the market: ids, order specs as the API sees them, and error codes. */
import {
  type Rejection,
  type Result,
  TollwayError,
  type TollwayErrorOptions,
} from "../../channels/index.ts";
import type { ExitPolicy, IpClass, OrderKind, PriceUnit, Protocol } from "./book/attributes.ts";

/** A 20-byte wallet address, lowercased 0x-hex. */
export type Address = `0x${string}`;
/** An order id: the EIP-712 digest of the signed order, lowercased 0x-hex. */
export type OrderId = `0x${string}` & { readonly __brand: "OrderId" };
/** A deal id, `d-<n>`, assigned in order of creation. */
export type DealId = string & { readonly __brand: "DealId" };

/** Every error code the market reports (HTTP 4xx bodies carry one). */
export type MarketErrorCode =
  | "INVALID_BODY"
  | "INVALID_PRICE"
  | "INVALID_QUANTITY"
  | "INVALID_DURATION"
  | "INVALID_ATTRIBUTE"
  | "BAD_SIGNATURE"
  | "WRONG_SIGNER"
  | "SIGNATURE_EXPIRED"
  | "REPLAYED"
  | "ORDER_EXPIRED"
  | "ORDER_NOT_FOUND"
  | "DEAL_NOT_FOUND"
  | "NOT_A_PARTY"
  | "BAD_DEAL_STATE"
  | "ALREADY_ACCEPTED"
  | "ALREADY_RATED"
  | "INSUFFICIENT_CAPACITY"
  | "PROFILE_NOT_FOUND"
  | "BOOK_FULL"
  | "OWNER_ORDER_LIMIT"
  | "RATE_LIMITED"
  | "UNAVAILABLE"
  | "JOURNAL_CORRUPT"
  | "NO_CHAIN_ID";

/** A refused command (nothing changed): the channels layer's `Rejection` with a market code. */
export type MarketRejection = Rejection<MarketErrorCode>;

/** `{ ok: true, value }` or a {@link MarketRejection}: the channels layer's `Result`. */
export type MarketResult<T> = Result<T, MarketErrorCode>;

/** Thrown at the API layer; carries a {@link MarketErrorCode}. */
export class MarketError extends TollwayError<MarketErrorCode> {
  /**
   * @param code - machine-readable code (HTTP bodies carry it)
   * @param message - short human-readable message
   * @param options - the details and the cause
   */
  constructor(code: MarketErrorCode, message: string, options: TollwayErrorOptions = {}) {
    super(code, message, options);
    this.name = "MarketError";
  }
}

/** An offer as signed by its provider (amounts in token base units). */
export interface OfferSpec {
  readonly side: "offer";
  readonly owner: Address;
  readonly kind: OrderKind;
  readonly priceUnit: PriceUnit;
  /** ISO 3166-1 alpha-2, e.g. "DE". */
  readonly country: string;
  /** Region or city; "" when not given. */
  readonly region: string;
  readonly asn: number;
  readonly ipClass: IpClass;
  readonly protocols: readonly Protocol[];
  readonly bandwidthMbps: number;
  readonly minDurationS: number;
  readonly maxDurationS: number;
  readonly maxStickyS: number;
  readonly exitPolicies: readonly ExitPolicy[];
  /** Price per second or per GiB. */
  readonly price: bigint;
  readonly quantity: number;
  readonly nonce: bigint;
  /** Unix seconds after which the order (and its signature) is void. */
  readonly expiry: number;
}

/** A request as signed by its requester. Empty lists mean "any". */
export interface RequestSpec {
  readonly side: "request";
  readonly owner: Address;
  readonly kind: OrderKind;
  readonly priceUnit: PriceUnit;
  readonly countries: readonly string[];
  readonly regions: readonly string[];
  readonly asns: readonly number[];
  readonly ipClasses: readonly IpClass[];
  readonly protocols: readonly Protocol[];
  readonly minBandwidthMbps: number;
  /** Minimum provider rating in milli-stars (0 = no filter). */
  readonly minRatingMilli: number;
  readonly minCompletedDeals: number;
  /** Highest price per unit. */
  readonly maxPrice: bigint;
  readonly durationS: number;
  readonly stickyS: number;
  readonly exitPolicy: ExitPolicy;
  readonly quantity: number;
  /** For per-GiB requests: GiB per unit the deal may use at most (sets the reserved cost). */
  readonly volumeGib: number;
  readonly nonce: bigint;
  readonly expiry: number;
}

/** Either side's order. */
export type OrderSpec = OfferSpec | RequestSpec;
