/**
 * Market signatures through channels' one verifier pool (real keys, real worker threads): an
 * order verifies as its owner's exactly when the owner's key signed it as given, and its id is
 * the digest ethers computes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TypedDataEncoder } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MARKET_TYPES,
  MarketService,
  offerMessage,
  requestMessage,
  typedDigest,
} from "../../../engine/market/api/index.ts";
import type { OfferSpec, RequestSpec } from "../../../engine/market/types.ts";
import { addressOf, newWallet, offerSpec, requestSpec, signOrder } from "./helpers/signing.ts";

let dir: string;
let svc: MarketService;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-order-sig-"));
  svc = await MarketService.open({ dir, chainId: 31337, tickMs: 0, verifiers: 2 });
});
afterAll(async () => {
  await svc.close();
  await rm(dir, { recursive: true, force: true });
});

const wallets = [newWallet(), newWallet(), newWallet()];
const MAX_U256 = (1n << 256n) - 1n;
const MAX_U64 = (1n << 64n) - 1n;
// Any text: ASCII, accents, CJK, emoji (surrogate pairs), and long enough to span keccak blocks.
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 90 }));

const offerArb = fc.record({
  country: text,
  region: text,
  asn: fc.nat({ max: 2 ** 32 - 1 }),
  bandwidthMbps: fc.nat({ max: 2 ** 32 - 1 }),
  price: fc.bigInt({ min: 1n, max: MAX_U256 }),
  quantity: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  nonce: fc.bigInt({ min: 0n, max: MAX_U64 }),
});
const requestArb = fc.record({
  countries: fc.array(text, { maxLength: 3 }),
  maxPrice: fc.bigInt({ min: 1n, max: MAX_U256 }),
  volumeGib: fc.nat(),
  nonce: fc.bigInt({ min: 0n, max: MAX_U64 }),
});

function specOf(side: "offer" | "request", owner: number, fields: object): OfferSpec | RequestSpec {
  const address = addressOf(wallets[owner]!);
  return side === "offer"
    ? offerSpec(address, fields as Partial<OfferSpec>)
    : requestSpec(address, fields as Partial<RequestSpec>);
}

function messageOf(spec: OfferSpec | RequestSpec) {
  return spec.side === "offer"
    ? { type: "Offer" as const, msg: offerMessage(spec) }
    : { type: "Request" as const, msg: requestMessage(spec) };
}

describe("market order signatures", () => {
  it("property: an order verifies as its owner's iff the owner's key signed it as given", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("offer" as const, "request" as const),
        offerArb,
        requestArb,
        fc.nat({ max: 2 }),
        fc.nat({ max: 2 }),
        fc.boolean(),
        async (side, offer, request, signerIx, ownerIx, edited) => {
          const spec = specOf(side, ownerIx, side === "offer" ? offer : request);
          const signature = await signOrder(wallets[signerIx]!, svc.domain, spec);
          // An order edited after signing: one more unit of price.
          const sent = !edited
            ? spec
            : spec.side === "offer"
              ? { ...spec, price: spec.price + 1n }
              : { ...spec, maxPrice: spec.maxPrice + 1n };
          const { type, msg } = messageOf(sent);
          const v = await svc.verify(type, msg, signature);
          expect(v.ok && v.value.signer === spec.owner).toBe(signerIx === ownerIx && !edited);
          if (!edited) {
            // Whoever signed, the signer is recovered and the order id is ethers' digest.
            expect(v).toEqual({
              ok: true,
              value: {
                signer: addressOf(wallets[signerIx]!),
                digest: TypedDataEncoder.hash(svc.domain, { [type]: [...MARKET_TYPES[type]] }, msg),
              },
            });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("property: the market's digests are ethers' for any text and any amount", () => {
    fc.assert(
      fc.property(offerArb, requestArb, (offer, request) => {
        for (const spec of [specOf("offer", 0, offer), specOf("request", 1, request)]) {
          const { type, msg } = messageOf(spec);
          expect(`0x${Buffer.from(typedDigest(svc.domain, type, msg)).toString("hex")}`).toBe(
            TypedDataEncoder.hash(svc.domain, { [type]: [...MARKET_TYPES[type]] }, msg),
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it("refuses what the market never signs: a value out of its type, a malformed signature", async () => {
    const spec = offerSpec(addressOf(wallets[0]!));
    const signature = await signOrder(wallets[0]!, svc.domain, spec);
    const msg = offerMessage(spec);
    const checks = await Promise.all([
      svc.verify("Offer", { ...msg, asn: 2 ** 32 }, signature),
      svc.verify("Offer", msg, signature.slice(0, -2)),
      svc.verify("Offer", msg, `${signature.slice(0, -2)}1d`),
      // v 0/1 is the same signature as v 27/28 to the market.
      svc.verify(
        "Offer",
        msg,
        `${signature.slice(0, -2)}0${Number(`0x${signature.slice(-2)}`) - 27}`,
      ),
    ]);
    expect(checks[0]).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
    expect(checks[1]).toMatchObject({ ok: false, code: "SIGNATURE_LENGTH" });
    expect(checks[2]).toMatchObject({ ok: false, code: "SIGNATURE_BAD_V" });
    expect(checks[3]).toMatchObject({ ok: true, value: { signer: spec.owner } });
  });
});
