/** The orders a proxy provider and a crawler place: an IP offer priced per second, and its request. */
import type { Address, OfferSpec, RequestSpec } from "../market/types.ts";

/** An offer of exit IPs through the metered proxy, priced per second. */
export function proxyOffer(
  owner: Address,
  price: bigint,
  o: {
    country?: string;
    region?: string;
    asn?: number;
    ipClass?: OfferSpec["ipClass"];
    quantity?: number;
  } = {},
): OfferSpec {
  return {
    side: "offer",
    owner: owner.toLowerCase() as Address,
    kind: "ip",
    priceUnit: "second",
    country: o.country ?? "DE",
    region: o.region ?? "",
    asn: o.asn ?? 0,
    ipClass: o.ipClass ?? "datacenter",
    protocols: ["http", "socks5"],
    bandwidthMbps: 100,
    minDurationS: 5,
    maxDurationS: 30 * 86_400,
    maxStickyS: 3600,
    exitPolicies: ["replace", "same-asn"],
    price,
    quantity: o.quantity ?? 1,
    nonce: BigInt(Date.now()),
    expiry: Math.floor(Date.now() / 1000) + 86_400,
  };
}

/** A crawler's request for one exit IP over HTTP for `seconds`, at most `maxPrice` a second. */
export function proxyRequest(
  owner: Address,
  maxPrice: bigint,
  seconds: number,
  o: { country?: string; ipClasses?: RequestSpec["ipClasses"] } = {},
): RequestSpec {
  return {
    side: "request",
    owner: owner.toLowerCase() as Address,
    kind: "ip",
    priceUnit: "second",
    countries: [o.country ?? "DE"],
    regions: [],
    asns: [],
    ipClasses: o.ipClasses ?? [],
    protocols: ["http"],
    minBandwidthMbps: 0,
    minRatingMilli: 0,
    minCompletedDeals: 0,
    maxPrice,
    durationS: Math.max(5, seconds),
    stickyS: 0,
    exitPolicy: "replace",
    quantity: 1,
    volumeGib: 0,
    nonce: BigInt(Date.now()),
    expiry: Math.floor(Date.now() / 1000) + 3600,
  };
}
