import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Matcher,
  type OfferInput,
  type RequestInput,
  readEffects,
} from "../../../engine/market/book/index.ts";
import { type Op, opArb } from "./helpers/order-arbitraries.ts";
import { ReferenceMatcher, type RefFill, refCompatible } from "./helpers/reference-matcher.ts";

interface Placed {
  side: "offer" | "request";
  input: OfferInput | RequestInput;
  fastId: number;
  ref: number;
  /** Quantity since the last placement or amend, and what was filled since. */
  base: number;
  filled: number;
  price: number;
}

/** Runs a stream through both matchers and checks every invariant on the way. */
function runStream(ops: readonly Op[]): void {
  const fast = new Matcher({ capacity: 32 });
  const ref = new ReferenceMatcher();
  const placed: Placed[] = [];
  const byFast = new Map<number, Placed>();
  const byRef = new Map<number, Placed>();
  let now = 0;

  const checkFills = (taker: Placed, refFills: RefFill[]) => {
    const fills = readEffects(fast.out).filter((e) => e.type === "fill");
    const mapped = fills.map((f) => ({
      taker: byFast.get(f.takerId)!.ref,
      maker: byFast.get(f.makerId)!.ref,
      price: f.price,
      qty: f.qty,
    }));
    expect(mapped).toEqual(refFills);
    let sum = 0;
    for (const f of fills) {
      const maker = byFast.get(f.makerId)!;
      const offer = (taker.side === "offer" ? taker : maker).input as OfferInput;
      const request = (taker.side === "request" ? taker : maker).input as RequestInput;
      const offerPrice = taker.side === "offer" ? taker.price : maker.price;
      const requestPrice = taker.side === "request" ? taker.price : maker.price;
      // Never above the request's limit, never below the offer's price, at the maker's price.
      expect(f.price).toBeLessThanOrEqual(requestPrice);
      expect(f.price).toBeGreaterThanOrEqual(offerPrice);
      expect(f.price).toBe(maker.price);
      // Never an attribute the request excluded.
      expect(refCompatible(request, offer, ref.ratings)).toBe(true);
      expect(f.qty).toBeGreaterThan(0);
      maker.filled += f.qty;
      expect(maker.filled).toBeLessThanOrEqual(maker.base);
      expect(f.makerLeft).toBe(maker.base - maker.filled);
      sum += f.qty;
    }
    taker.filled += sum;
    // Never fill past a quantity.
    expect(taker.filled).toBeLessThanOrEqual(taker.base);
    expect(fast.takerLeft).toBe(taker.base - taker.filled);
  };

  for (const op of ops) {
    switch (op.op) {
      case "offer":
      case "request": {
        const id =
          op.op === "offer"
            ? fast.placeOffer(op.input as OfferInput, now)
            : fast.placeRequest(op.input as RequestInput, now);
        if (typeof id !== "number") {
          expect(op.input.expiresAt).toBeLessThanOrEqual(now);
          break;
        }
        const r = ref.place(op.op, op.input, now);
        const price =
          op.op === "offer" ? (op.input as OfferInput).price : (op.input as RequestInput).maxPrice;
        const p: Placed = {
          side: op.op,
          input: op.input,
          fastId: id,
          ref: r.ref,
          base: op.input.quantity,
          filled: 0,
          price,
        };
        placed.push(p);
        byFast.set(id, p);
        byRef.set(r.ref, p);
        checkFills(p, r.fills);
        break;
      }
      case "cancel": {
        const p = placed[op.target % Math.max(1, placed.length)];
        if (!p) break;
        const live = p.input.expiresAt > now;
        const a = fast.cancel(p.fastId);
        const b = ref.cancel(p.ref);
        if (live) expect(typeof a === "number" ? a : undefined).toBe(b);
        break;
      }
      case "amend": {
        const p = placed[op.target % Math.max(1, placed.length)];
        if (!p) break;
        const a = fast.amend(p.fastId, op.price, op.qty, now);
        const b = ref.amend(p.ref, op.price, op.qty, now);
        expect(typeof a === "number").toBe(b !== undefined);
        if (typeof a === "number" && b) {
          p.base = op.qty;
          p.filled = 0;
          p.price = op.price;
          checkFills(p, b.fills);
          expect(a).toBe(b.left);
        }
        break;
      }
      case "stats":
        fast.setProviderStats(op.owner, op.rating, op.completed);
        ref.ratings.set(op.owner, { rating: op.rating, completed: op.completed });
        break;
      case "time":
        now += op.advance;
        break;
    }
  }
  // Quantity is conserved: what rests in the book is what each order had minus its fills.
  const live = ref.resting.filter((o) => o.input.expiresAt > now);
  for (const o of live) {
    const p = byRef.get(o.ref)!;
    const view = fast.order(p.fastId);
    expect(view?.qty).toBe(o.qty);
    expect(o.qty).toBe(p.base - p.filled);
  }
  fast.expire(now);
  expect(fast.size).toBe(live.length);
}

const FAR = 1e12;

/**
 * Streams that pile many orders onto two price levels of one bucket per side and cancel
 * most of them: level runs fill, leave tombstones, get trimmed, compacted, slid and grown,
 * and walks step over long stretches of orders their filters reject (another region or ASN,
 * too little bandwidth, too short a sticky session).
 */
const deepOpArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        owner: fc.integer({ min: 0, max: 3 }),
        asn: fc.constantFrom(100, 100, 200),
        region: fc.constantFrom(1, 1, 2),
        bandwidthMbps: fc.constantFrom(10, 100),
        maxStickyS: fc.constantFrom(0, 600),
        price: fc.constantFrom(5, 6, 6),
        quantity: fc.integer({ min: 1, max: 3 }),
        expiresAt: fc.constantFrom(FAR, FAR, FAR, FAR, 300),
      })
      .map((o) => ({
        op: "offer" as const,
        input: {
          ...o,
          kind: 0,
          unit: 0,
          country: 10,
          ipClass: 1,
          protocols: 7,
          minDurationS: 5,
          maxDurationS: 3600,
          exitPolicies: 7,
        } satisfies OfferInput,
      })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        owner: fc.integer({ min: 2, max: 5 }),
        countries: fc.constantFrom<number[]>([], [10], [10], [10, 20]),
        asns: fc.constantFrom<number[]>([], [], [200]),
        regions: fc.constantFrom<number[]>([], [], [2]),
        minBandwidthMbps: fc.constantFrom(0, 0, 50),
        stickyS: fc.constantFrom(0, 0, 300),
        maxPrice: fc.constantFrom(1, 2, 3, 4, 5, 6),
        quantity: fc.integer({ min: 1, max: 6 }),
        expiresAt: fc.constantFrom(FAR, FAR, FAR, FAR, 300),
      })
      .map((r) => ({
        op: "request" as const,
        input: {
          ...r,
          kind: 0,
          unit: 0,
          ipClasses: 0,
          protocols: 0,
          minRatingMilli: 0,
          minCompletedDeals: 0,
          durationS: 60,
          exitPolicy: 1,
        } satisfies RequestInput,
      })),
  },
  { weight: 5, arbitrary: fc.nat(2000).map((target) => ({ op: "cancel" as const, target })) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        target: fc.nat(2000),
        price: fc.constantFrom(3, 5, 6),
        qty: fc.integer({ min: 1, max: 3 }),
      })
      .map((r) => ({ op: "amend" as const, ...r })),
  },
  { weight: 1, arbitrary: fc.constant({ op: "time" as const, advance: 20 }) },
);

describe("matcher against the reference matcher", () => {
  it("agrees on random order streams and keeps every invariant", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 200 }), (ops) => runStream(ops)),
      { numRuns: 300 },
    );
  });

  it("agrees on streams that pile up and cancel orders on a few deep levels", () => {
    fc.assert(
      fc.property(fc.array(deepOpArb, { minLength: 100, maxLength: 800 }), (ops) => runStream(ops)),
      { numRuns: 150 },
    );
  });

  it("keeps price-time priority: equal prices fill oldest first, across buckets", () => {
    const m = new Matcher({ capacity: 16 });
    const base: OfferInput = {
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
      maxStickyS: 0,
      exitPolicies: 7,
      price: 5,
      quantity: 1,
      expiresAt: 1e12,
    };
    const a = m.placeOffer({ ...base, country: 20 }, 0) as number;
    const b = m.placeOffer({ ...base, region: 2 }, 0) as number;
    const c = m.placeOffer({ ...base, price: 4, ipClass: 2, owner: 2 }, 0) as number;
    const d = m.placeOffer(base, 0) as number;
    m.placeRequest(
      {
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
        maxPrice: 5,
        durationS: 60,
        stickyS: 0,
        exitPolicy: 1,
        quantity: 4,
        expiresAt: 1e12,
      },
      0,
    );
    expect(readEffects(m.out).map((e) => (e.type === "fill" ? e.makerId : -1))).toEqual([
      c,
      a,
      b,
      d,
    ]);
  });
});
