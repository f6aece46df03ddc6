/** Arbitraries of the gateway's tests: any targeting the table allows. */
import fc from "fast-check";
import {
  COUNTRIES,
  formatTargeting,
  LOST_EXIT_POLICIES,
  MAX_USERNAME_LENGTH,
  type Targeting,
} from "../../../engine/gateway/index.ts";
import {
  IP_CLASSES,
  MAX_PRICE,
  PRICE_UNITS,
  PROTOCOLS,
} from "../../../engine/market/book/index.ts";

const word = (max: number) => fc.stringMatching(new RegExp(`^[a-z0-9_]{1,${max}}$`));

/** Any targeting the table allows. */
export const targetingArb: fc.Arbitrary<Targeting> = fc
  .record(
    {
      country: fc.constantFrom(...COUNTRIES),
      region: word(64),
      city: word(64),
      asn: fc.integer({ min: 1, max: 0xffff_ffff }),
      ipClass: fc.constantFrom(...IP_CLASSES),
      protocol: fc.constantFrom(...PROTOCOLS),
      maxPrice: fc.bigInt({ min: 0n, max: BigInt(MAX_PRICE) }),
      priceUnit: fc.constantFrom(...PRICE_UNITS),
      stickiness: fc.oneof(
        fc.record({
          kind: fc.constant("sticky" as const),
          session: word(32),
          minutes: fc.integer({ min: 1, max: 1440 }),
          lost: fc.constantFrom(...LOST_EXIT_POLICIES),
        }),
        fc.record({
          kind: fc.constant("rotating" as const),
          every: fc.oneof(
            fc.constant("connection" as const),
            fc.integer({ min: 1, max: 1_000_000 }),
          ),
        }),
      ),
    },
    { requiredKeys: ["stickiness"] },
  )
  // Every key at its longest passes 255: those are refused TOO_LONG, which a test below covers.
  .filter((t) => formatTargeting(t).length <= MAX_USERNAME_LENGTH);
