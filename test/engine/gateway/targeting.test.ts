import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatTargeting,
  MAX_USERNAME_LENGTH,
  parseTargeting,
  type Targeting,
} from "../../../engine/gateway/index.ts";
import { MAX_PRICE } from "../../../engine/market/book/index.ts";
import { targetingArb } from "./arbitraries.ts";

const ok = (value: Targeting) => ({ ok: true, value });
const rotating = { kind: "rotating", every: "connection" } as const;

describe("parseTargeting accepts", () => {
  const cases: [string, Targeting][] = [
    ["user", { stickiness: rotating }],
    [
      "user-country-de-city-berlin-session-a1b2-sesstime-30",
      {
        country: "de",
        city: "berlin",
        stickiness: { kind: "sticky", session: "a1b2", minutes: 30, lost: "replace" },
      },
    ],
    // ASCII case folds; order is free
    [
      "User-Session-A1B2-Country-DE-SESSTIME-30-City-Berlin",
      {
        country: "de",
        city: "berlin",
        stickiness: { kind: "sticky", session: "a1b2", minutes: 30, lost: "replace" },
      },
    ],
    [
      "user-region-new_york-asn-4294967295-class-mobile-protocol-socks5-maxprice-0-unit-gib",
      {
        region: "new_york",
        asn: 4294967295,
        ipClass: "mobile",
        protocol: "socks5",
        maxPrice: 0n,
        priceUnit: "gib",
        stickiness: rotating,
      },
    ],
    [`user-maxprice-${MAX_PRICE}`, { maxPrice: BigInt(MAX_PRICE), stickiness: rotating }],
    [
      "user-session-x-lost-same-asn",
      { stickiness: { kind: "sticky", session: "x", minutes: 10, lost: "same-asn" } },
    ],
    [
      "user-lost-same-city-session-x-sesstime-1440-asn-1",
      { asn: 1, stickiness: { kind: "sticky", session: "x", minutes: 1440, lost: "same-city" } },
    ],
    [
      "user-session-x-lost-fail",
      { stickiness: { kind: "sticky", session: "x", minutes: 10, lost: "fail" } },
    ],
    ["user-rotate-conn", { stickiness: rotating }],
    ["user-rotate-25", { stickiness: { kind: "rotating", every: 25 } }],
    ["user-country-gb", { country: "gb", stickiness: rotating }],
    [
      `user-session-${"a".repeat(32)}`,
      { stickiness: { kind: "sticky", session: "a".repeat(32), minutes: 10, lost: "replace" } },
    ],
  ];
  it.each(cases)("%s", (username, want) => {
    expect(parseTargeting(username)).toEqual(ok(want));
  });
});

describe("parseTargeting refuses", () => {
  const cases: [string, string, Record<string, unknown>?][] = [
    ["", "TARGETING_MALFORMED"],
    ["customer-country-de", "TARGETING_MALFORMED", { at: 0 }],
    ["country-de", "TARGETING_MALFORMED"],
    ["user-", "TARGETING_MALFORMED"],
    ["user--country-de", "TARGETING_MALFORMED"],
    ["user-country--city-x", "TARGETING_MALFORMED"],
    ["user-country-de-", "TARGETING_MALFORMED"],
    ["user-country-d e", "TARGETING_BAD_CHARACTER", { at: 14 }],
    ["user-city-münchen", "TARGETING_BAD_CHARACTER"],
    ["user-city-st.louis", "TARGETING_BAD_CHARACTER"],
    ["user:country", "TARGETING_BAD_CHARACTER"],
    [`user-session-${"a".repeat(MAX_USERNAME_LENGTH)}`, "TARGETING_TOO_LONG"],
    ["user-cc-de", "TARGETING_UNKNOWN_KEY", { key: "cc" }],
    ["user-__proto__-x", "TARGETING_UNKNOWN_KEY", { key: "__proto__" }],
    ["user-tostring-x", "TARGETING_UNKNOWN_KEY", { key: "tostring" }],
    ["user-constructor-x", "TARGETING_UNKNOWN_KEY", { key: "constructor" }],
    ["user-country", "TARGETING_MISSING_VALUE", { key: "country" }],
    ["user-country-de-city", "TARGETING_MISSING_VALUE", { key: "city" }],
    ["user-country-de-country-fr", "TARGETING_DUPLICATE_KEY", { key: "country" }],
    ["user-country-DE-Country-de", "TARGETING_DUPLICATE_KEY", { key: "country" }],
    ["user-country-uk", "TARGETING_BAD_VALUE", { key: "country", value: "uk" }],
    ["user-country-xk", "TARGETING_BAD_VALUE", { key: "country" }],
    ["user-country-deu", "TARGETING_BAD_VALUE", { key: "country" }],
    ["user-country-__proto__", "TARGETING_BAD_VALUE", { key: "country" }],
    ["user-class-tostring", "TARGETING_BAD_VALUE", { key: "class" }],
    ["user-class-hosting", "TARGETING_BAD_VALUE", { key: "class" }],
    ["user-protocol-https", "TARGETING_BAD_VALUE", { key: "protocol" }],
    ["user-unit-byte", "TARGETING_BAD_VALUE", { key: "unit" }],
    ["user-asn-0", "TARGETING_BAD_VALUE", { key: "asn" }],
    ["user-asn-4294967296", "TARGETING_BAD_VALUE", { key: "asn" }],
    ["user-asn-0123", "TARGETING_BAD_VALUE", { key: "asn" }],
    ["user-asn-1e3", "TARGETING_BAD_VALUE", { key: "asn" }],
    [`user-maxprice-${BigInt(MAX_PRICE) + 1n}`, "TARGETING_BAD_VALUE", { key: "maxprice" }],
    ["user-maxprice-99999999999999999999", "TARGETING_BAD_VALUE", { key: "maxprice" }],
    [`user-city-${"a".repeat(65)}`, "TARGETING_BAD_VALUE", { key: "city" }],
    [`user-session-${"a".repeat(33)}`, "TARGETING_BAD_VALUE", { key: "session" }],
    ["user-session-x-sesstime-0", "TARGETING_BAD_VALUE", { key: "sesstime" }],
    ["user-session-x-sesstime-1441", "TARGETING_BAD_VALUE", { key: "sesstime" }],
    ["user-session-x-lost-same", "TARGETING_BAD_VALUE", { key: "lost" }],
    ["user-session-x-lost-same-country", "TARGETING_BAD_VALUE", { key: "lost" }],
    ["user-session-x-lost-asn", "TARGETING_BAD_VALUE", { key: "lost" }],
    ["user-rotate-0", "TARGETING_BAD_VALUE", { key: "rotate" }],
    ["user-rotate-1000001", "TARGETING_BAD_VALUE", { key: "rotate" }],
    ["user-rotate-connection", "TARGETING_BAD_VALUE", { key: "rotate" }],
    ["user-sesstime-30", "TARGETING_CONFLICT", { key: "sesstime", with: "session" }],
    ["user-lost-fail", "TARGETING_CONFLICT", { key: "lost", with: "session" }],
    ["user-session-x-rotate-5", "TARGETING_CONFLICT", { key: "rotate", with: "session" }],
  ];
  it.each(cases)("%s: %s", (username, code, details) => {
    const r = parseTargeting(username);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    if (details) expect(r.details).toMatchObject(details);
  });
});

describe("properties", () => {
  it("formatTargeting then parseTargeting gives back any valid targeting", () => {
    fc.assert(
      fc.property(targetingArb, (t) => {
        expect(parseTargeting(formatTargeting(t))).toEqual(ok(t));
      }),
      { numRuns: 2000 },
    );
  });

  it("any permutation and case of a valid username parses the same", () => {
    fc.assert(
      fc.property(targetingArb, fc.infiniteStream(fc.boolean()), (t, upper) => {
        const parts = formatTargeting(t).split("-").slice(1);
        const pairs: string[] = [];
        for (let i = 0; i < parts.length; ) {
          const n = parts[i + 1] === "same" ? 3 : 2;
          pairs.push(parts.slice(i, i + n).join("-"));
          i += n;
        }
        pairs.reverse();
        const shuffled = ["user", ...pairs]
          .join("-")
          .split("")
          .map((c) => (upper.next().value ? c.toUpperCase() : c))
          .join("");
        expect(parseTargeting(shuffled)).toEqual(ok(t));
      }),
      { numRuns: 500 },
    );
  });

  const separatorsAndKeys = fc.constantFrom(
    "-",
    "--",
    "_",
    "user",
    "country",
    "de",
    "session",
    "sesstime",
    "lost",
    "same",
    "asn",
    "city",
    "rotate",
    "__proto__",
    "toString",
    "constructor",
    "hasOwnProperty",
    "0",
    "4294967296",
    ":",
    "@",
    "\u0000",
    "é",
    "\u{1F600}",
    "\uD800",
  );
  const arbitraryUsername = fc.oneof(
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.array(separatorsAndKeys, { maxLength: 40 }).map((a) => a.join("")),
    fc.array(separatorsAndKeys, { maxLength: 40 }).map((a) => `user-${a.join("-")}`),
    fc.uint8Array({ maxLength: 300 }).map((b) => new TextDecoder().decode(b)),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
    fc.integer({ min: 0, max: 100_000 }).map((n) => `user-session-${"a".repeat(n)}`),
    // valid usernames with one character replaced, inserted or removed
    fc
      .tuple(
        targetingArb,
        fc.nat(),
        fc.constantFrom("", "-", "a", "0", "_", "A", " ", "é"),
        fc.boolean(),
      )
      .map(([t, at, c, replace]) => {
        const s = formatTargeting(t);
        const i = at % (s.length + 1);
        return s.slice(0, i) + c + s.slice(replace ? i + 1 : i);
      }),
  );

  it("never throws: refuses with a code or yields a targeting that formats back to an equivalent", () => {
    const codes = new Set([
      "TARGETING_TOO_LONG",
      "TARGETING_BAD_CHARACTER",
      "TARGETING_MALFORMED",
      "TARGETING_UNKNOWN_KEY",
      "TARGETING_MISSING_VALUE",
      "TARGETING_BAD_VALUE",
      "TARGETING_DUPLICATE_KEY",
      "TARGETING_CONFLICT",
    ]);
    let accepted = 0;
    fc.assert(
      fc.property(arbitraryUsername, (s) => {
        const r = parseTargeting(s);
        if (!r.ok) {
          expect(codes.has(r.code)).toBe(true);
          return;
        }
        const canonical = formatTargeting(r.value);
        expect(canonical.length).toBeLessThanOrEqual(s.length);
        expect(parseTargeting(canonical)).toEqual(r);
        expect(Object.getPrototypeOf(r.value)).toBe(Object.prototype);
        accepted++;
      }),
      { numRuns: 3000 },
    );
    // the mutated valid names make sure the accepting branch is exercised too
    expect(accepted).toBeGreaterThan(50);
  });

  it("refuses every username over 255 characters before reading it", () => {
    fc.assert(
      fc.property(fc.string({ minLength: MAX_USERNAME_LENGTH + 1, maxLength: 2000 }), (s) => {
        const r = parseTargeting(s);
        expect(r.ok ? "accepted" : r.code).toBe("TARGETING_TOO_LONG");
      }),
    );
    const huge = parseTargeting(`user-${"x".repeat(50_000_000)}`);
    expect(huge.ok ? "accepted" : huge.code).toBe("TARGETING_TOO_LONG");
  });
});
