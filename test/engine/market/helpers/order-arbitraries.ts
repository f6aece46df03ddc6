/** fast-check arbitraries of matcher inputs over a small attribute space (so orders meet). */
import fc from "fast-check";
import type { OfferInput, RequestInput } from "../../../../engine/market/book/index.ts";

const FAR = 1e12;
/** Mostly "any" (empty), sometimes a small sorted set: filters that sometimes bite. */
const set = (values: number[], max: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant<number[]>([]) },
    {
      weight: 1,
      arbitrary: fc
        .uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: max })
        .map((a) => [...a].sort((x, y) => x - y)),
    },
  );
/** Usually `common`, sometimes anything from `all`. */
const mostly = <T>(common: T, all: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(common) }, { weight: 1, arbitrary: all });

export const offerArb: fc.Arbitrary<OfferInput> = fc.record({
  owner: fc.integer({ min: 0, max: 5 }),
  kind: mostly(0, fc.constantFrom(0, 1)),
  unit: mostly(0, fc.constantFrom(0, 1)),
  country: fc.constantFrom(10, 20, 30),
  region: fc.constantFrom(0, 1, 2),
  asn: fc.constantFrom(100, 200),
  ipClass: fc.constantFrom(1, 2, 4),
  protocols: mostly(7, fc.integer({ min: 1, max: 7 })),
  bandwidthMbps: fc.constantFrom(10, 100),
  minDurationS: fc.constantFrom(5, 60),
  maxDurationS: fc.constantFrom(600, 3600),
  maxStickyS: fc.constantFrom(0, 600),
  exitPolicies: mostly(7, fc.integer({ min: 1, max: 7 })),
  price: fc.integer({ min: 1, max: 12 }),
  quantity: fc.integer({ min: 1, max: 6 }),
  expiresAt: fc.constantFrom(FAR, FAR, FAR, 50, 150),
});

export const requestArb: fc.Arbitrary<RequestInput> = fc.record({
  owner: fc.integer({ min: 0, max: 5 }),
  kind: mostly(0, fc.constantFrom(0, 1)),
  unit: mostly(0, fc.constantFrom(0, 1)),
  countries: set([10, 20, 30], 2),
  regions: set([1, 2], 1),
  asns: set([100, 200], 2),
  ipClasses: mostly(0, fc.integer({ min: 0, max: 7 })),
  protocols: mostly(0, fc.integer({ min: 0, max: 7 })),
  minBandwidthMbps: fc.constantFrom(0, 0, 50),
  minRatingMilli: fc.constantFrom(0, 0, 0, 3000),
  minCompletedDeals: fc.constantFrom(0, 0, 0, 1),
  maxPrice: fc.integer({ min: 1, max: 12 }),
  durationS: fc.constantFrom(60, 300, 300, 1800),
  stickyS: fc.constantFrom(0, 0, 0, 300),
  exitPolicy: mostly(1, fc.constantFrom(1, 2, 4)),
  quantity: fc.integer({ min: 1, max: 8 }),
  expiresAt: fc.constantFrom(FAR, FAR, FAR, 50, 150),
});

/** One step of an order stream; `target` picks an earlier order by index. */
export type Op =
  | { readonly op: "offer"; readonly input: OfferInput }
  | { readonly op: "request"; readonly input: RequestInput }
  | { readonly op: "cancel"; readonly target: number }
  | { readonly op: "amend"; readonly target: number; readonly price: number; readonly qty: number }
  | {
      readonly op: "stats";
      readonly owner: number;
      readonly rating: number;
      readonly completed: number;
    }
  | { readonly op: "time"; readonly advance: number };

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: offerArb.map((input) => ({ op: "offer" as const, input })) },
  { weight: 5, arbitrary: requestArb.map((input) => ({ op: "request" as const, input })) },
  { weight: 2, arbitrary: fc.nat(200).map((target) => ({ op: "cancel" as const, target })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        target: fc.nat(200),
        price: fc.integer({ min: 1, max: 12 }),
        qty: fc.integer({ min: 1, max: 8 }),
      })
      .map((r) => ({ op: "amend" as const, ...r })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        owner: fc.integer({ min: 0, max: 5 }),
        rating: fc.constantFrom(-1, 2000, 4000),
        completed: fc.nat(3),
      })
      .map((r) => ({ op: "stats" as const, ...r })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 60 }).map((advance) => ({ op: "time" as const, advance })),
  },
);
