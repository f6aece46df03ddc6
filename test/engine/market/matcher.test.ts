import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Matcher,
  type MatcherRejection,
  type OfferInput,
  type RequestInput,
  readEffects,
} from "../../../engine/market/book/index.ts";

const offer = (o: Partial<OfferInput> = {}): OfferInput => ({
  owner: 1,
  kind: 0,
  unit: 0,
  country: 10,
  region: 1,
  asn: 100,
  ipClass: 1,
  protocols: 3,
  bandwidthMbps: 100,
  minDurationS: 5,
  maxDurationS: 3600,
  maxStickyS: 600,
  exitPolicies: 7,
  price: 10,
  quantity: 5,
  expiresAt: 1e12,
  ...o,
});
const request = (r: Partial<RequestInput> = {}): RequestInput => ({
  owner: 9,
  kind: 0,
  unit: 0,
  countries: [],
  regions: [],
  asns: [],
  ipClasses: 0,
  protocols: 0,
  minBandwidthMbps: 0,
  minRatingMilli: 0,
  minCompletedDeals: 0,
  maxPrice: 100,
  durationS: 60,
  stickyS: 0,
  exitPolicy: 1,
  quantity: 1,
  expiresAt: 1e12,
  ...r,
});
const fills = (m: Matcher) => readEffects(m.out).filter((e) => e.type === "fill");
const code = (r: number | MatcherRejection) => (typeof r === "number" ? "ok" : r.code);

describe("matcher", () => {
  it("fills across offers at each offer's price and rests the remainder", () => {
    const m = new Matcher();
    const a = m.placeOffer(offer({ price: 12, quantity: 2 }), 0) as number;
    const b = m.placeOffer(offer({ price: 10, quantity: 3, owner: 2 }), 0) as number;
    const r = m.placeRequest(request({ maxPrice: 12, quantity: 7 }), 0) as number;
    expect(fills(m).map((f) => [f.makerId, f.price, f.qty])).toEqual([
      [b, 10, 3],
      [a, 12, 2],
    ]);
    expect(m.takerLeft).toBe(2);
    expect(m.order(r)?.qty).toBe(2);
    // An incoming offer matches the resting request at the request's price.
    m.placeOffer(offer({ price: 8, quantity: 5, owner: 3 }), 0);
    expect(fills(m).map((f) => [f.makerId, f.price, f.qty, f.makerLeft])).toEqual([[r, 12, 2, 0]]);
    expect(m.takerLeft).toBe(3);
    expect(m.order(r)).toBeUndefined();
  });

  it("does not trade above the limit", () => {
    const m = new Matcher();
    m.placeOffer(offer({ price: 11 }), 0);
    m.placeRequest(request({ maxPrice: 10 }), 0);
    expect(fills(m)).toEqual([]);
    expect(m.size).toBe(2);
  });

  const excluded: [string, Partial<OfferInput>, Partial<RequestInput>][] = [
    ["country", { country: 11 }, { countries: [10] }],
    ["region", { region: 2 }, { regions: [1] }],
    ["ASN", { asn: 200 }, { asns: [100] }],
    ["IP class", { ipClass: 2 }, { ipClasses: 1 }],
    ["protocol", { protocols: 1 }, { protocols: 4 }],
    ["bandwidth", { bandwidthMbps: 10 }, { minBandwidthMbps: 50 }],
    ["duration too long", { maxDurationS: 600 }, { durationS: 601 }],
    ["duration too short", { minDurationS: 120 }, { durationS: 60 }],
    ["sticky session", { maxStickyS: 0 }, { stickyS: 60 }],
    ["exit policy", { exitPolicies: 1 }, { exitPolicy: 4 }],
    ["rating (unrated provider)", {}, { minRatingMilli: 3000 }],
    ["completed deals", {}, { minCompletedDeals: 1 }],
    ["kind", { kind: 1 }, {}],
    ["unit", { unit: 1 }, {}],
    ["same wallet", { owner: 9 }, {}],
  ];
  it.each(excluded)("never matches an excluded %s, either way round", (_name, o, r) => {
    const m1 = new Matcher();
    m1.placeOffer(offer(o), 0);
    m1.placeRequest(request(r), 0);
    expect(fills(m1)).toEqual([]);
    const m2 = new Matcher();
    m2.placeRequest(request(r), 0);
    m2.placeOffer(offer(o), 0);
    expect(fills(m2)).toEqual([]);
  });

  it("filters on provider rating and history once they are known", () => {
    const m = new Matcher();
    m.placeOffer(offer({ owner: 4 }), 0);
    m.placeRequest(request({ minRatingMilli: 4000, minCompletedDeals: 2, quantity: 1 }), 0);
    expect(fills(m)).toEqual([]);
    m.setProviderStats(4, 4500, 2);
    m.placeRequest(
      request({ minRatingMilli: 4000, minCompletedDeals: 2, quantity: 1, owner: 8 }),
      0,
    );
    expect(fills(m)).toHaveLength(1);
  });

  it("cancels, and a cancelled id is unknown afterwards", () => {
    const m = new Matcher();
    const id = m.placeOffer(offer(), 0) as number;
    expect(m.cancel(id)).toBe(5);
    expect(code(m.cancel(id))).toBe("ORDER_NOT_FOUND");
    // The slot is reused under a new id: the old id stays dead.
    const id2 = m.placeOffer(offer(), 0) as number;
    expect(id2).not.toBe(id);
    expect(code(m.cancel(id))).toBe("ORDER_NOT_FOUND");
    expect(code(m.cancel(12345))).toBe("ORDER_NOT_FOUND");
  });

  it("amends: a smaller quantity keeps priority, a new price loses it and may match", () => {
    const m = new Matcher();
    const a = m.placeOffer(offer({ quantity: 5 }), 0) as number;
    const b = m.placeOffer(offer({ quantity: 5, owner: 2 }), 0) as number;
    expect(m.amend(a, 10, 3, 0)).toBe(3);
    m.placeRequest(request({ maxPrice: 10, quantity: 1 }), 0);
    expect(fills(m)[0]?.makerId).toBe(a);
    expect(m.amend(a, 10, 9, 0)).toBe(9); // larger: to the back of the queue
    m.placeRequest(request({ maxPrice: 10, quantity: 1 }), 0);
    expect(fills(m)[0]?.makerId).toBe(b);
    const r = m.placeRequest(request({ maxPrice: 5, quantity: 2 }), 0) as number;
    expect(fills(m)).toEqual([]);
    expect(m.amend(r, 10, 2, 0)).toBe(0);
    expect(fills(m).map((f) => [f.makerId, f.qty])).toEqual([[b, 2]]);
  });

  it("drops expired orders when it meets them and on expire()", () => {
    const m = new Matcher();
    const a = m.placeOffer(offer({ expiresAt: 100, price: 5 }), 0) as number;
    m.placeOffer(offer({ expiresAt: 1e12, owner: 2 }), 0);
    m.placeRequest(request({ quantity: 1 }), 200);
    const eff = readEffects(m.out);
    expect(eff[0]).toEqual({ type: "expired", orderId: a, qty: 5 });
    expect(eff[1]?.type).toBe("fill");
    const b = m.placeOffer(offer({ expiresAt: 300 }), 200) as number;
    expect(m.expire(300)).toBe(1);
    expect(m.order(b)).toBeUndefined();
  });

  it("expire() removes exactly the orders due, once each, across minutes, cancels and reused slots (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("place" as const),
              life: fc.integer({ min: 1, max: 600_000 }),
              price: fc.integer({ min: 1, max: 20 }),
            }),
            fc.record({ op: fc.constant("cancel" as const), pick: fc.nat() }),
            fc.record({
              op: fc.constant("wait" as const),
              ms: fc.integer({ min: 1, max: 90_000 }),
            }),
          ),
          { maxLength: 120 },
        ),
        (ops) => {
          const m = new Matcher();
          let now = 1_000;
          // Offers only, so nothing fills: the book is what was placed, minus cancels and expiry.
          const book = new Map<number, number>();
          const expired: number[] = [];
          for (const o of ops) {
            if (o.op === "place") {
              const id = m.placeOffer(offer({ price: o.price, expiresAt: now + o.life }), now);
              if (typeof id === "number") book.set(id, now + o.life);
            } else if (o.op === "cancel") {
              const ids = [...book.keys()];
              const id = ids[o.pick % Math.max(1, ids.length)];
              if (id !== undefined && typeof m.cancel(id) === "number") book.delete(id);
            } else {
              now += o.ms;
              m.expire(now);
              for (const e of readEffects(m.out)) {
                if (e.type === "expired") expired.push(e.orderId);
              }
              for (const [id, at] of book) if (at <= now) book.delete(id);
            }
            expect(m.size).toBe(book.size);
          }
          expect(new Set(expired).size).toBe(expired.length);
          for (const id of book.keys()) expect(m.order(id)).toBeDefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    ["INVALID_PRICE", offer({ price: -1 })],
    ["INVALID_PRICE", offer({ price: 2 ** 53 })],
    ["INVALID_QUANTITY", offer({ quantity: 0 })],
    ["INVALID_QUANTITY", offer({ quantity: 1.5 })],
    ["INVALID_DURATION", offer({ minDurationS: 4 })],
    ["INVALID_DURATION", offer({ maxDurationS: 30 * 86400 + 1 })],
    ["INVALID_ATTRIBUTE", offer({ ipClass: 3 })],
    ["INVALID_ATTRIBUTE", offer({ country: 676 })],
    ["ORDER_EXPIRED", offer({ expiresAt: 0 })],
  ] as const)("refuses a bad offer with %s and changes nothing", (c, o) => {
    const m = new Matcher();
    m.placeRequest(request(), 0);
    expect(code(m.placeOffer(o, 0))).toBe(c);
    expect(m.size).toBe(1);
  });

  it.each([
    ["INVALID_PRICE", request({ maxPrice: Number.NaN })],
    ["INVALID_DURATION", request({ durationS: 4 })],
    ["INVALID_ATTRIBUTE", request({ countries: [20, 10] })],
    ["INVALID_ATTRIBUTE", request({ countries: [10, 10] })],
    ["INVALID_ATTRIBUTE", request({ exitPolicy: 3 })],
  ] as const)("refuses a bad request with %s and changes nothing", (c, r) => {
    const m = new Matcher();
    m.placeOffer(offer(), 0);
    expect(code(m.placeRequest(r, 0))).toBe(c);
    expect(m.size).toBe(1);
  });

  it("answers book queries in fill order without changing the book", () => {
    const m = new Matcher();
    const a = m.placeOffer(offer({ price: 12 }), 0) as number;
    const b = m.placeOffer(offer({ price: 9, country: 11 }), 0) as number;
    m.placeOffer(offer({ price: 9, ipClass: 4 }), 0);
    const rows = m.queryOffers(request({ ipClasses: 1 }), 0, 10);
    expect(rows.map((r) => r.id)).toEqual([b, a]);
    expect(m.size).toBe(3);
  });

  it("keeps time priority across buckets when a walk skips long runs its filter rejects", () => {
    for (const skipped of [10, 63, 64, 65, 200]) {
      const m = new Matcher({ capacity: 64 });
      // One level of one bucket: a long run of ASN 100, then one ASN 200 offer; another
      // bucket at the same price holds ASN 200 offers that arrived just before and after it.
      for (let i = 0; i < skipped; i++) m.placeOffer(offer({ price: 5, quantity: 1 }), 0);
      const one = { price: 5, asn: 200, quantity: 1 };
      const b1 = m.placeOffer(offer({ ...one, ipClass: 2 }), 0) as number;
      const a = m.placeOffer(offer(one), 0) as number;
      const b2 = m.placeOffer(offer({ ...one, ipClass: 2 }), 0) as number;
      const c = m.placeOffer(offer({ ...one, price: 6 }), 0) as number;
      // A book read walks the same way.
      const rows = m.queryOffers(request({ asns: [200] }), 0, 10);
      expect(rows.map((r) => r.id)).toEqual([b1, a, b2, c]);
      m.placeRequest(request({ asns: [200], maxPrice: 6, quantity: 16 }), 0);
      expect(fills(m).map((f) => f.makerId)).toEqual([b1, a, b2, c]);
    }
  });
});
