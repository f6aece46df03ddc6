/** A targeting as the market's request filters: the order the gateway signs to buy an exit. */
import { type Result, reject } from "../../channels/index.ts";
import type { ExitPolicy, PriceUnit, Protocol } from "../market/book/attributes.ts";
import { encodeRequest, Interner } from "../market/core/order-codec.ts";
import type { Address, RequestSpec } from "../market/types.ts";
import type { LostExitPolicy, Targeting, TargetingErrorCode } from "./targeting.ts";

/** What the gateway adds to a targeting: who buys, for how long, and its own defaults. */
export interface RequestContext {
  readonly owner: Address;
  readonly nonce: bigint;
  /** Unix seconds after which the request is void (the caller reads the clock). */
  readonly expiry: number;
  /** Deal length for rotating exits, seconds (a sticky one lasts its `sesstime`). */
  readonly durationS: number;
  /** The unit bought when the targeting names none. */
  readonly priceUnit: PriceUnit;
  /** The highest price per unit when the targeting names none. */
  readonly maxPrice: Readonly<Record<PriceUnit, bigint>>;
  /** The protocols the gateway can drive; a targeting's `protocol` must be one of them. */
  readonly protocols: readonly Protocol[];
  /** For per-GiB requests: GiB per deal. */
  readonly volumeGib: number;
}

/**
 * The market has no `same-city`: the gateway asks for `replace` and keeps to the city itself
 * when it buys the replacement.
 */
const MARKET_EXIT: Readonly<Record<LostExitPolicy, ExitPolicy>> = {
  replace: "replace",
  "same-asn": "same-asn",
  "same-city": "replace",
  fail: "fail",
};

/**
 * The market request that buys one exit matching `t`. A city is the finer place, so it is the
 * region filter when both are given (an offer carries one region name).
 *
 * @returns the spec, `TARGETING_UNSUPPORTED` (details: `key`) when `t.protocol` is not one the
 *   gateway drives, or `TARGETING_UNSUPPORTED` (details: `marketCode`) when the market refuses the
 *   spec, as it does today for an ASN at or above 2^31 (details: `key` "asn"; "context" when
 *   the fault is in `ctx`)
 */
export function requestSpecOf(
  t: Targeting,
  ctx: RequestContext,
): Result<RequestSpec, TargetingErrorCode> {
  if (t.protocol !== undefined && !ctx.protocols.includes(t.protocol)) {
    return reject("TARGETING_UNSUPPORTED", "the gateway does not drive this protocol", {
      key: "protocol",
      value: t.protocol,
    });
  }
  const unit = t.priceUnit ?? ctx.priceUnit;
  const sticky = t.stickiness.kind === "sticky" ? t.stickiness : undefined;
  const place = t.city ?? t.region;
  const spec: RequestSpec = {
    side: "request",
    owner: ctx.owner.toLowerCase() as Address,
    kind: "ip",
    priceUnit: unit,
    countries: t.country === undefined ? [] : [t.country.toUpperCase()],
    regions: place === undefined ? [] : [place],
    asns: t.asn === undefined ? [] : [t.asn],
    ipClasses: t.ipClass === undefined ? [] : [t.ipClass],
    protocols: t.protocol === undefined ? [...ctx.protocols] : [t.protocol],
    minBandwidthMbps: 0,
    minRatingMilli: 0,
    minCompletedDeals: 0,
    maxPrice: t.maxPrice ?? ctx.maxPrice[unit],
    durationS: sticky === undefined ? ctx.durationS : sticky.minutes * 60,
    stickyS: sticky === undefined ? 0 : sticky.minutes * 60,
    exitPolicy: sticky === undefined ? "replace" : MARKET_EXIT[sticky.lost],
    quantity: 1,
    volumeGib: ctx.volumeGib,
    nonce: ctx.nonce,
    expiry: ctx.expiry,
  };
  // The market's own check, so that the gateway never signs what the market would refuse.
  const checked = marketCheck(spec);
  if (!checked.ok) {
    // Only an ASN can be in the username's range and out of the market's (2^31 up, today).
    const key = spec.asns.length > 0 && marketCheck({ ...spec, asns: [] }).ok ? "asn" : "context";
    return reject("TARGETING_UNSUPPORTED", "the market refuses this request", {
      key,
      marketCode: checked.code,
      marketReason: checked.reason,
    });
  }
  return { ok: true, value: spec };
}

function marketCheck(spec: RequestSpec): Result<unknown, string> {
  return encodeRequest(spec, 0, new Interner(1));
}
