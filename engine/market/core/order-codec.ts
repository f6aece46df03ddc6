/**
 * Turns signed order specs (strings, lists, bigint prices) into the matcher's numeric inputs,
 * with every range check the hot path relies on. Interning tables map wallet addresses and
 * region names to small integers in order of first appearance, so replaying the same commands
 * rebuilds the same numbers.
 */
import { reject } from "../../../channels/index.ts";
import {
  countryCode,
  EXIT_POLICIES,
  exitPolicyBit,
  IP_CLASSES,
  ipClassBit,
  kindIndex,
  MAX_DURATION_S,
  MAX_PRICE,
  MAX_QUANTITY,
  MAX_RATING_MILLI,
  MIN_DURATION_S,
  namesMask,
  PROTOCOLS,
  unitIndex,
} from "../book/attributes.ts";
import type { OfferInput, RequestInput } from "../book/matcher.ts";
import type { MarketResult, OfferSpec, RequestSpec } from "../types.ts";

/** Strings to dense integers, first come first numbered (from `first`). */
export class Interner {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly first: number;

  constructor(first = 0) {
    this.first = first;
  }

  /** The number of a name, assigning the next one when new. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.first + this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  /** The number of a known name, or undefined. */
  lookup(name: string): number | undefined {
    return this.ids.get(name);
  }

  /** Every name, in the order they were numbered. */
  all(): string[] {
    return [...this.names];
  }

  /** The name of a number. */
  name(id: number): string | undefined {
    return this.names[id - this.first];
  }
}

const MAX_I32 = 0x7fff_ffff;
const MAX_LIST = 64;

function u31(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_I32;
}

/** A price in token base units as a hot-path number, or a rejection past 2^53 − 1. */
export function priceToNumber(price: bigint): MarketResult<number> {
  if (typeof price !== "bigint" || price < 0n || price > BigInt(MAX_PRICE)) {
    return reject("INVALID_PRICE", `price must be 0..${MAX_PRICE} base units`);
  }
  return { ok: true, value: Number(price) };
}

function quantityOk(q: number): boolean {
  return Number.isInteger(q) && q >= 1 && q <= MAX_QUANTITY;
}

/** Encodes an offer for the matcher. */
export function encodeOffer(
  spec: OfferSpec,
  owner: number,
  regions: Interner,
): MarketResult<OfferInput> {
  const price = priceToNumber(spec.price);
  if (!price.ok) return price;
  if (!quantityOk(spec.quantity)) return reject("INVALID_QUANTITY", "quantity must be 1..1e9");
  if (
    !u31(spec.minDurationS) ||
    !u31(spec.maxDurationS) ||
    spec.minDurationS < MIN_DURATION_S ||
    spec.maxDurationS > MAX_DURATION_S ||
    spec.minDurationS > spec.maxDurationS
  ) {
    return reject("INVALID_DURATION", "durations must satisfy 5 <= min <= max <= 2592000 s");
  }
  const kind = kindIndex(spec.kind);
  const unit = unitIndex(spec.priceUnit);
  const country = countryCode(spec.country);
  const ipClass = ipClassBit(spec.ipClass);
  const protocols = namesMask(spec.protocols, PROTOCOLS);
  const exits = namesMask(spec.exitPolicies, EXIT_POLICIES);
  if (
    kind < 0 ||
    unit < 0 ||
    country < 0 ||
    ipClass === 0 ||
    protocols <= 0 ||
    exits <= 0 ||
    !u31(spec.asn) ||
    !u31(spec.bandwidthMbps) ||
    !u31(spec.maxStickyS) ||
    typeof spec.region !== "string" ||
    spec.region.length > 64
  ) {
    return reject("INVALID_ATTRIBUTE", "an offer attribute is unknown or out of range");
  }
  return {
    ok: true,
    value: {
      owner,
      kind,
      unit,
      country,
      region: spec.region === "" ? 0 : regions.intern(spec.region),
      asn: spec.asn,
      ipClass,
      protocols,
      bandwidthMbps: spec.bandwidthMbps,
      minDurationS: spec.minDurationS,
      maxDurationS: spec.maxDurationS,
      maxStickyS: spec.maxStickyS,
      exitPolicies: exits,
      price: price.value,
      quantity: spec.quantity,
      expiresAt: spec.expiry * 1000,
    },
  };
}

function sortedUnique(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Encodes a request for the matcher (lists become sorted sets of codes). */
export function encodeRequest(
  spec: RequestSpec,
  owner: number,
  regions: Interner,
): MarketResult<RequestInput> {
  const price = priceToNumber(spec.maxPrice);
  if (!price.ok) return price;
  if (!quantityOk(spec.quantity)) return reject("INVALID_QUANTITY", "quantity must be 1..1e9");
  if (!u31(spec.durationS) || spec.durationS < MIN_DURATION_S || spec.durationS > MAX_DURATION_S) {
    return reject("INVALID_DURATION", "duration must be 5 s to 30 days");
  }
  const kind = kindIndex(spec.kind);
  const unit = unitIndex(spec.priceUnit);
  const lists = [spec.countries, spec.regions, spec.asns, spec.ipClasses, spec.protocols];
  if (lists.some((l) => !Array.isArray(l) || l.length > MAX_LIST)) {
    return reject("INVALID_ATTRIBUTE", `filter lists hold at most ${MAX_LIST} values`);
  }
  const countries = spec.countries.map(countryCode);
  const classes = namesMask(spec.ipClasses, IP_CLASSES);
  const protocols = namesMask(spec.protocols, PROTOCOLS);
  const exit = exitPolicyBit(spec.exitPolicy);
  if (
    kind < 0 ||
    unit < 0 ||
    countries.some((c) => c < 0) ||
    classes < 0 ||
    protocols < 0 ||
    exit === 0 ||
    !spec.asns.every(u31) ||
    !spec.regions.every((r) => typeof r === "string" && r.length > 0 && r.length <= 64) ||
    !u31(spec.minBandwidthMbps) ||
    !u31(spec.stickyS) ||
    !u31(spec.minCompletedDeals) ||
    !u31(spec.minRatingMilli) ||
    spec.minRatingMilli > MAX_RATING_MILLI
  ) {
    return reject("INVALID_ATTRIBUTE", "a request filter is unknown or out of range");
  }
  if (unit === 1 && !(u31(spec.volumeGib) && spec.volumeGib >= 1)) {
    return reject("INVALID_QUANTITY", "a per-GiB request needs volumeGib >= 1");
  }
  return {
    ok: true,
    value: {
      owner,
      kind,
      unit,
      countries: sortedUnique(countries),
      regions: sortedUnique(spec.regions.map((r) => regions.intern(r))),
      asns: sortedUnique([...spec.asns]),
      ipClasses: classes,
      protocols,
      minBandwidthMbps: spec.minBandwidthMbps,
      minRatingMilli: spec.minRatingMilli,
      minCompletedDeals: spec.minCompletedDeals,
      maxPrice: price.value,
      durationS: spec.durationS,
      stickyS: spec.stickyS,
      exitPolicy: exit,
      quantity: spec.quantity,
      expiresAt: spec.expiry * 1000,
    },
  };
}
