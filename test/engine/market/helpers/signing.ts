/** Test helpers: wallets, specs, EIP-712 signatures and request bodies. */
import { randomBytes } from "node:crypto";
import { Wallet } from "ethers";
import {
  MARKET_TYPES,
  type MarketDomain,
  type MarketTypeName,
  offerMessage,
  requestMessage,
  type TypedMessage,
} from "../../../../engine/market/api/index.ts";
import type { Address, OfferSpec, RequestSpec } from "../../../../engine/market/types.ts";

export function newWallet(): Wallet {
  return new Wallet(`0x${randomBytes(32).toString("hex")}`);
}

export function addressOf(w: Wallet): Address {
  return w.address.toLowerCase() as Address;
}

let nonce = 1n;

export function offerSpec(owner: Address, o: Partial<OfferSpec> = {}): OfferSpec {
  return {
    side: "offer",
    owner,
    kind: "ip",
    priceUnit: "second",
    country: "DE",
    region: "Berlin",
    asn: 3320,
    ipClass: "residential",
    protocols: ["http", "socks5"],
    bandwidthMbps: 100,
    minDurationS: 5,
    maxDurationS: 86_400,
    maxStickyS: 600,
    exitPolicies: ["replace", "same-asn"],
    price: 10n,
    quantity: 5,
    nonce: nonce++,
    expiry: 4_000_000_000,
    ...o,
  };
}

export function requestSpec(owner: Address, r: Partial<RequestSpec> = {}): RequestSpec {
  return {
    side: "request",
    owner,
    kind: "ip",
    priceUnit: "second",
    countries: ["DE"],
    regions: [],
    asns: [],
    ipClasses: [],
    protocols: ["socks5"],
    minBandwidthMbps: 0,
    minRatingMilli: 0,
    minCompletedDeals: 0,
    maxPrice: 20n,
    durationS: 60,
    stickyS: 0,
    exitPolicy: "replace",
    quantity: 2,
    volumeGib: 0,
    nonce: nonce++,
    expiry: 4_000_000_000,
    ...r,
  };
}

export async function sign(
  w: Wallet,
  domain: MarketDomain,
  type: MarketTypeName,
  msg: TypedMessage,
): Promise<string> {
  return w.signTypedData(domain, { [type]: [...MARKET_TYPES[type]] }, msg);
}

export async function signOrder(
  w: Wallet,
  domain: MarketDomain,
  spec: OfferSpec | RequestSpec,
): Promise<string> {
  return spec.side === "offer"
    ? sign(w, domain, "Offer", offerMessage(spec))
    : sign(w, domain, "Request", requestMessage(spec));
}

/** JSON body with bigints as decimal strings. */
export function body(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
}
