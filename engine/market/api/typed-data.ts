/**
 * EIP-712 typed data of the market: orders, amends, cancels, deal answers and ratings.
 *
 * Domain: `{ name: "tollway-market", version: "1", chainId }` (default chain 31337), plus
 * `verifyingContract` when the market is configured with an address. Orders are flat structs of
 * strings, addresses and unsigned integers; list filters are signed as comma-joined strings in
 * the order the body gives them (e.g. `countries: "DE,NL"`). The types are the market's, as data;
 * encoding, hashing and verifying them is channels' one EIP-712 encoder and verifier pool, which
 * take any flat struct (a test checks the digests against ethers' `TypedDataEncoder.hash`).
 */
import {
  cachedSeparator,
  type StructField,
  type StructType,
  structType,
  typedDataDigest,
} from "../../../channels/index.ts";
import type { OfferSpec, RequestSpec } from "../types.ts";

/** The market's signing domain. */
export interface MarketDomain {
  readonly name: "tollway-market";
  readonly version: "1";
  readonly chainId: number;
  readonly verifyingContract?: `0x${string}`;
}

/** Builds the domain for a chain (and optionally a market contract address). */
export function marketDomain(chainId = 31337, verifyingContract?: `0x${string}`): MarketDomain {
  return verifyingContract
    ? { name: "tollway-market", version: "1", chainId, verifyingContract }
    : { name: "tollway-market", version: "1", chainId };
}

/** Struct definitions, in ethers' `types` format. */
export const MARKET_TYPES = {
  Offer: [
    { name: "provider", type: "address" },
    { name: "kind", type: "string" },
    { name: "priceUnit", type: "string" },
    { name: "country", type: "string" },
    { name: "region", type: "string" },
    { name: "asn", type: "uint32" },
    { name: "ipClass", type: "string" },
    { name: "protocols", type: "string" },
    { name: "bandwidthMbps", type: "uint32" },
    { name: "minDurationS", type: "uint32" },
    { name: "maxDurationS", type: "uint32" },
    { name: "maxStickyS", type: "uint32" },
    { name: "exitPolicies", type: "string" },
    { name: "price", type: "uint256" },
    { name: "quantity", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  Request: [
    { name: "requester", type: "address" },
    { name: "kind", type: "string" },
    { name: "priceUnit", type: "string" },
    { name: "countries", type: "string" },
    { name: "regions", type: "string" },
    { name: "asns", type: "string" },
    { name: "ipClasses", type: "string" },
    { name: "protocols", type: "string" },
    { name: "minBandwidthMbps", type: "uint32" },
    { name: "minRatingMilli", type: "uint32" },
    { name: "minCompletedDeals", type: "uint32" },
    { name: "maxPrice", type: "uint256" },
    { name: "durationS", type: "uint32" },
    { name: "stickyS", type: "uint32" },
    { name: "exitPolicy", type: "string" },
    { name: "quantity", type: "uint64" },
    { name: "volumeGib", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  AmendOrder: [
    { name: "orderId", type: "bytes32" },
    { name: "price", type: "uint256" },
    { name: "quantity", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  CancelOrder: [
    { name: "orderId", type: "bytes32" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  AcceptDeal: [
    { name: "dealId", type: "string" },
    { name: "maxCost", type: "uint256" },
  ],
  RejectDeal: [
    { name: "dealId", type: "string" },
    { name: "reason", type: "string" },
  ],
  Rating: [
    { name: "dealId", type: "string" },
    { name: "score", type: "uint8" },
  ],
  StreamAuth: [{ name: "challenge", type: "string" }],
  ChannelReady: [
    { name: "dealId", type: "string" },
    { name: "channelId", type: "bytes32" },
  ],
  TunnelUp: [{ name: "dealId", type: "string" }],
} as const satisfies Record<string, readonly StructField[]>;

/** Name of a signed struct. */
export type MarketTypeName = keyof typeof MARKET_TYPES;

/** A message's values: strings, numbers or bigints by field name. */
export type TypedMessage = Readonly<Record<string, string | number | bigint>>;

/** The struct types of MARKET_TYPES, compiled for the encoder. */
export const MARKET_STRUCTS = Object.fromEntries(
  Object.entries(MARKET_TYPES).map(([name, fields]) => [name, structType(name, fields)]),
) as Readonly<Record<MarketTypeName, StructType>>;

/**
 * The EIP-712 digest of a market message.
 * @throws TypeError when a value does not fit its field's type.
 */
export function typedDigest(
  domain: MarketDomain,
  type: MarketTypeName,
  msg: TypedMessage,
): Uint8Array {
  return typedDataDigest(cachedSeparator(domain), MARKET_STRUCTS[type], msg);
}

/** The typed-data message of an offer, as its provider signs it. */
export function offerMessage(s: OfferSpec): TypedMessage {
  return {
    provider: s.owner,
    kind: s.kind,
    priceUnit: s.priceUnit,
    country: s.country,
    region: s.region,
    asn: s.asn,
    ipClass: s.ipClass,
    protocols: s.protocols.join(","),
    bandwidthMbps: s.bandwidthMbps,
    minDurationS: s.minDurationS,
    maxDurationS: s.maxDurationS,
    maxStickyS: s.maxStickyS,
    exitPolicies: s.exitPolicies.join(","),
    price: s.price,
    quantity: s.quantity,
    nonce: s.nonce,
    expiry: s.expiry,
  };
}

/** The typed-data message of a request, as its requester signs it. */
export function requestMessage(s: RequestSpec): TypedMessage {
  return {
    requester: s.owner,
    kind: s.kind,
    priceUnit: s.priceUnit,
    countries: s.countries.join(","),
    regions: s.regions.join(","),
    asns: s.asns.join(","),
    ipClasses: s.ipClasses.join(","),
    protocols: s.protocols.join(","),
    minBandwidthMbps: s.minBandwidthMbps,
    minRatingMilli: s.minRatingMilli,
    minCompletedDeals: s.minCompletedDeals,
    maxPrice: s.maxPrice,
    durationS: s.durationS,
    stickyS: s.stickyS,
    exitPolicy: s.exitPolicy,
    quantity: s.quantity,
    volumeGib: s.volumeGib,
    nonce: s.nonce,
    expiry: s.expiry,
  };
}
