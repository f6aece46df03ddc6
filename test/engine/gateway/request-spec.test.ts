import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseTargeting,
  type RequestContext,
  requestSpecOf,
  type Targeting,
} from "../../../engine/gateway/index.ts";
import { checkRequest } from "../../../engine/market/book/index.ts";
import { encodeRequest, Interner } from "../../../engine/market/core/index.ts";
import type { RequestSpec } from "../../../engine/market/index.ts";
import { targetingArb } from "./arbitraries.ts";

const NOW_S = 1_800_000_000;
const ctx: RequestContext = {
  owner: "0xAbCdEf0123456789abcdef0123456789ABCDEF01",
  nonce: 7n,
  expiry: NOW_S + 3600,
  durationS: 600,
  priceUnit: "second",
  maxPrice: { second: 50n, gib: 4000n },
  protocols: ["http", "socks5"],
  volumeGib: 1,
};

function targeting(username: string): Targeting {
  const r = parseTargeting(username);
  if (!r.ok) throw new Error(`${username}: ${r.code}`);
  return r.value;
}

/** What the market does to a request it is sent: the codec's checks, then the matcher's. */
function marketRefusal(spec: RequestSpec): string | null {
  const enc = encodeRequest(spec, 0, new Interner(1));
  if (!enc.ok) return enc.code;
  return checkRequest(enc.value, NOW_S * 1000)?.code ?? null;
}

describe("requestSpecOf", () => {
  it("turns the username's filters into the market's", () => {
    const r = requestSpecOf(
      targeting(
        "user-country-de-city-berlin-region-be-asn-3320-class-residential-session-a1-sesstime-30-lost-same-asn",
      ),
      ctx,
    );
    expect(r).toMatchObject({
      ok: true,
      value: {
        side: "request",
        owner: "0xabcdef0123456789abcdef0123456789abcdef01",
        kind: "ip",
        priceUnit: "second",
        countries: ["DE"],
        regions: ["berlin"],
        asns: [3320],
        ipClasses: ["residential"],
        protocols: ["http", "socks5"],
        maxPrice: 50n,
        durationS: 1800,
        stickyS: 1800,
        exitPolicy: "same-asn",
        quantity: 1,
        nonce: 7n,
        expiry: NOW_S + 3600,
      },
    });
  });

  const cases: [string, Partial<RequestSpec>][] = [
    [
      "user",
      {
        countries: [],
        regions: [],
        asns: [],
        ipClasses: [],
        durationS: 600,
        stickyS: 0,
        exitPolicy: "replace",
      },
    ],
    ["user-region-bavaria", { regions: ["bavaria"] }],
    ["user-protocol-socks5", { protocols: ["socks5"] }],
    ["user-unit-gib", { priceUnit: "gib", maxPrice: 4000n }],
    ["user-unit-gib-maxprice-9", { priceUnit: "gib", maxPrice: 9n }],
    ["user-maxprice-0", { priceUnit: "second", maxPrice: 0n }],
    ["user-session-s-lost-same-city", { exitPolicy: "replace", stickyS: 600 }],
    ["user-session-s-lost-fail-sesstime-1", { exitPolicy: "fail", durationS: 60, stickyS: 60 }],
    ["user-rotate-5", { stickyS: 0, durationS: 600 }],
  ];
  it.each(cases)("%s", (username, want) => {
    expect(requestSpecOf(targeting(username), ctx)).toMatchObject({ ok: true, value: want });
  });

  it("refuses a protocol the gateway does not drive", () => {
    const r = requestSpecOf(targeting("user-protocol-wireguard"), ctx);
    expect(r).toMatchObject({
      ok: false,
      code: "TARGETING_UNSUPPORTED",
      details: { key: "protocol" },
    });
  });

  it("refuses what the market cannot hold yet: an ASN at or above 2^31", () => {
    const r = requestSpecOf(targeting("user-asn-2147483648"), ctx);
    expect(r).toMatchObject({
      ok: false,
      code: "TARGETING_UNSUPPORTED",
      details: { key: "asn", marketCode: "INVALID_ATTRIBUTE" },
    });
    expect(requestSpecOf(targeting("user-asn-2147483647"), ctx).ok).toBe(true);
  });

  it("names the context when the gateway's own settings are what the market refuses", () => {
    const r = requestSpecOf(targeting("user-asn-3320"), { ...ctx, durationS: 1 });
    expect(r).toMatchObject({
      ok: false,
      code: "TARGETING_UNSUPPORTED",
      details: { key: "context", marketCode: "INVALID_DURATION" },
    });
  });

  it("never yields a spec the market refuses, and refuses only with its own code", () => {
    const ctxArb = fc.record({
      owner: fc.constant(ctx.owner),
      nonce: fc.bigInt({ min: 0n, max: 2n ** 64n }),
      expiry: fc.integer({ min: NOW_S + 1, max: NOW_S + 86_400 * 365 }),
      durationS: fc.integer({ min: 5, max: 30 * 86_400 }),
      priceUnit: fc.constantFrom("second" as const, "gib" as const),
      maxPrice: fc.record({
        second: fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }),
        gib: fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }),
      }),
      protocols: fc.subarray(["http", "socks5", "wireguard"] as const, { minLength: 1 }),
      volumeGib: fc.integer({ min: 1, max: 1000 }),
    });
    fc.assert(
      fc.property(targetingArb, ctxArb, (t, c) => {
        const r = requestSpecOf(t, c);
        if (r.ok) {
          expect(marketRefusal(r.value)).toBeNull();
          return;
        }
        expect(r.code).toBe("TARGETING_UNSUPPORTED");
        // the two reasons it has: a protocol the gateway lacks, an ASN the market cannot hold
        const asnTooWide = t.asn !== undefined && t.asn > 0x7fff_ffff;
        const noProtocol = t.protocol !== undefined && !c.protocols.includes(t.protocol);
        expect(asnTooWide || noProtocol).toBe(true);
        expect(r.details?.key).toBe(noProtocol ? "protocol" : "asn");
      }),
      { numRuns: 2000 },
    );
  });
});
