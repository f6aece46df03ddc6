import { describe, expect, it } from "vitest";
import {
  type MarketCommand,
  MarketCore,
  type MarketEvent,
} from "../../../engine/market/core/index.ts";
import type { Address, DealId, OrderId } from "../../../engine/market/types.ts";
import { offerSpec, requestSpec } from "./helpers/signing.ts";

const P1 = "0x00000000000000000000000000000000000000a1" as Address;
const P2 = "0x00000000000000000000000000000000000000a2" as Address;
const R1 = "0x00000000000000000000000000000000000000b1" as Address;
let n = 0;
const oid = () => `0x${(++n).toString(16).padStart(64, "0")}` as OrderId;

function ok(core: MarketCore, cmd: MarketCommand, now = 1000): MarketEvent[] {
  const r = core.apply(cmd, now);
  if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
  return r.value;
}
function code(core: MarketCore, cmd: MarketCommand, now = 1000): string {
  const r = core.apply(cmd, now);
  return r.ok ? "ok" : r.code;
}
const matched = (ev: MarketEvent[]) => ev.flatMap((e) => (e.type === "Matched" ? [e.deal] : []));

describe("market core", () => {
  it("turns fills into deals with the resting price and records the commission", () => {
    const core = new MarketCore({ commissionBps: 100 });
    const offer = oid();
    ok(core, { type: "PlaceOrder", id: offer, spec: offerSpec(P1, { price: 7n, quantity: 3 }) });
    const ev = ok(core, {
      type: "PlaceOrder",
      id: oid(),
      spec: requestSpec(R1, { maxPrice: 9n, quantity: 2 }),
    });
    const [deal] = matched(ev);
    expect(deal).toMatchObject({
      provider: P1,
      requester: R1,
      price: 7n,
      quantity: 2,
      protocol: "socks5",
      maxCost: 7n * 60n * 2n,
      commission: (840n * 100n) / 10_000n,
    });
    expect(core.order(offer)).toMatchObject({ open: 1, matched: 2, status: "open" });
  });

  it("reserves the maximum cost on accept and refuses what the channels cannot cover", () => {
    const core = new MarketCore();
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { price: 10n }) });
    const [deal] = matched(
      ok(core, { type: "PlaceOrder", id: oid(), spec: requestSpec(R1, { quantity: 1 }) }),
    );
    const accept = { type: "AcceptDeal", digest: "0xacc1", dealId: deal!.id, signer: R1 } as const;
    expect(code(core, accept)).toBe("INSUFFICIENT_CAPACITY");
    expect(core.deal(deal!.id)?.requesterAccepted).toBe(false);
    ok(core, { type: "SetBalance", address: R1, balance: 600n });
    ok(core, accept);
    expect(core.wallet(R1)).toMatchObject({ balance: 600n, reserved: 600n });
    expect(code(core, accept)).toBe("REPLAYED");
    expect(code(core, { ...accept, digest: "0xacc2" })).toBe("ALREADY_ACCEPTED");
    expect(code(core, { type: "AcceptDeal", digest: "0xacc3", dealId: deal!.id, signer: P2 })).toBe(
      "NOT_A_PARTY",
    );
    expect(
      code(core, { type: "AcceptDeal", digest: "0xacc4", dealId: "d-99" as DealId, signer: R1 }),
    ).toBe("DEAL_NOT_FOUND");
    // A second deal cannot be reserved on top: reserved never exceeds the balance.
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P2, { price: 10n }) });
    const [d2] = matched(
      ok(core, { type: "PlaceOrder", id: oid(), spec: requestSpec(R1, { quantity: 1 }) }),
    );
    expect(code(core, { type: "AcceptDeal", digest: "0xacc5", dealId: d2!.id, signer: R1 })).toBe(
      "INSUFFICIENT_CAPACITY",
    );
  });

  it("releases the reservation and charges what was paid when the deal completes", () => {
    const core = new MarketCore();
    ok(core, { type: "SetBalance", address: R1, balance: 10_000n });
    const offer = oid();
    ok(core, { type: "PlaceOrder", id: offer, spec: offerSpec(P1, { price: 10n }) });
    const [deal] = matched(
      ok(core, { type: "PlaceOrder", id: oid(), spec: requestSpec(R1, { quantity: 1 }) }),
    );
    const id = deal!.id;
    const left = core.order(offer)!.open;
    ok(core, { type: "AcceptDeal", digest: "0x1", dealId: id, signer: R1 });
    ok(core, { type: "AcceptDeal", digest: "0x2", dealId: id, signer: P1 });
    ok(core, { type: "ChannelReady", dealId: id });
    ok(core, { type: "TunnelUp", dealId: id }, 2000);
    ok(core, { type: "ReportUsage", dealId: id, paid: 590n, bytes: 1 << 20 }, 50_000);
    ok(core, { type: "Tick" }, 62_000);
    expect(core.deal(id)?.status).toBe("completed");
    expect(core.wallet(R1)).toEqual({ address: R1, balance: 10_000n - 590n, reserved: 0n });
    expect(core.profile(P1)).toMatchObject({
      dealsCompleted: 1,
      bytesDelivered: 1 << 20,
      uptimeS: 60,
    });
    // The rental is over: the offer rests in the book again with its quantity.
    expect(core.order(offer)).toMatchObject({ status: "open", open: left + 1 });
  });

  it("gives a rejected deal's quantity back to the request, which then matches elsewhere", () => {
    const core = new MarketCore();
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { price: 5n, quantity: 2 }) });
    const req = oid();
    const [deal] = matched(
      ok(core, { type: "PlaceOrder", id: req, spec: requestSpec(R1, { quantity: 2 }) }),
    );
    expect(core.order(req)?.status).toBe("filled");
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P2, { price: 6n, quantity: 5 }) });
    const ev = ok(core, {
      type: "RejectDeal",
      digest: "0xr",
      dealId: deal!.id,
      signer: P1,
      reason: "maintenance",
    });
    const [again] = matched(ev);
    expect(again).toMatchObject({ provider: P2, requestId: req, quantity: 2, price: 6n });
    expect(core.deal(deal!.id)).toMatchObject({
      status: "rejected",
      reason: "provider: maintenance",
    });
  });

  it("takes one signed rating per deal from its requester, and requests can filter on it", () => {
    const core = new MarketCore();
    ok(core, { type: "SetBalance", address: R1, balance: 10_000n });
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { quantity: 1 }) });
    const [deal] = matched(
      ok(core, { type: "PlaceOrder", id: oid(), spec: requestSpec(R1, { quantity: 1 }) }),
    );
    const id = deal!.id;
    const rate = { type: "RateDeal", digest: "0xs1", dealId: id, signer: R1, score: 4 } as const;
    expect(code(core, rate)).toBe("BAD_DEAL_STATE");
    for (const c of [
      { type: "AcceptDeal", digest: "0xa", dealId: id, signer: R1 },
      { type: "AcceptDeal", digest: "0xb", dealId: id, signer: P1 },
      { type: "ChannelReady", dealId: id },
      { type: "TunnelUp", dealId: id },
    ] as const)
      ok(core, c);
    ok(core, { type: "Tick" }, 100_000);
    expect(code(core, { ...rate, signer: P1 })).toBe("NOT_A_PARTY");
    ok(core, rate);
    expect(code(core, { ...rate, digest: "0xs2" })).toBe("ALREADY_RATED");
    expect(core.profile(P1)).toMatchObject({ ratingCount: 1, ratingMilli: 4000 });
    // A request with a rating floor now matches P1 but not the unrated P2.
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P2, { price: 1n }) }, 100_000);
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { price: 9n }) }, 100_000);
    const [d] = matched(
      ok(
        core,
        {
          type: "PlaceOrder",
          id: oid(),
          spec: requestSpec(R1, { quantity: 1, minRatingMilli: 3500 }),
        },
        100_000,
      ),
    );
    expect(d?.provider).toBe(P1);
  });

  it("refuses replays, expired orders and a stranger's cancel, changing nothing", () => {
    const core = new MarketCore();
    const id = oid();
    const spec = offerSpec(P1);
    ok(core, { type: "PlaceOrder", id, spec });
    const before = core.fingerprint();
    expect(code(core, { type: "PlaceOrder", id, spec })).toBe("REPLAYED");
    expect(code(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { expiry: 1 }) })).toBe(
      "SIGNATURE_EXPIRED",
    );
    expect(
      code(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { price: 2n ** 60n }) }),
    ).toBe("INVALID_PRICE");
    expect(
      code(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { country: "D1" }) }),
    ).toBe("INVALID_ATTRIBUTE");
    expect(
      code(core, { type: "CancelOrder", digest: "0xc", orderId: id, signer: P2, expiry: 4e9 }),
    ).toBe("WRONG_SIGNER");
    expect(
      code(core, { type: "CancelOrder", digest: "0xc", orderId: oid(), signer: P1, expiry: 4e9 }),
    ).toBe("ORDER_NOT_FOUND");
    expect(core.fingerprint()).toBe(before);
    ok(core, { type: "CancelOrder", digest: "0xc", orderId: id, signer: P1, expiry: 4e9 });
    expect(
      code(core, { type: "CancelOrder", digest: "0xc", orderId: id, signer: P1, expiry: 4e9 }),
    ).toBe("REPLAYED");
    expect(core.order(id)?.status).toBe("cancelled");
  });

  it("fails accepted deals when the requester's channels shrink under its reservations", () => {
    const core = new MarketCore();
    ok(core, { type: "SetBalance", address: R1, balance: 600n });
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P1, { price: 10n }) });
    const [deal] = matched(
      ok(core, { type: "PlaceOrder", id: oid(), spec: requestSpec(R1, { quantity: 1 }) }),
    );
    ok(core, { type: "AcceptDeal", digest: "0xa", dealId: deal!.id, signer: R1 });
    ok(core, { type: "AcceptDeal", digest: "0xb", dealId: deal!.id, signer: P1 });
    ok(core, { type: "SetBalance", address: R1, balance: 100n });
    expect(core.deal(deal!.id)?.status).toBe("failed");
    expect(core.wallet(R1).reserved).toBe(0n);
  });

  it("reads the book by filter on both sides without changing it", () => {
    const core = new MarketCore();
    const cheap = oid();
    ok(core, {
      type: "PlaceOrder",
      id: cheap,
      spec: offerSpec(P1, { price: 3n, exitPolicies: ["fail"] }),
    });
    ok(core, { type: "PlaceOrder", id: oid(), spec: offerSpec(P2, { price: 4n, country: "NL" }) });
    const dear = oid();
    ok(core, {
      type: "PlaceOrder",
      id: dear,
      spec: offerSpec(P2, { price: 8n, ipClass: "datacenter" }),
    });
    const query = {
      side: "offer" as const,
      kind: "ip",
      priceUnit: "second",
      countries: ["DE"],
      regions: [],
      asns: [],
      ipClasses: [],
      protocols: [],
      minBandwidthMbps: 0,
      minRatingMilli: 0,
      maxPrice: 100n,
      durationS: 60,
      limit: 10,
    };
    const before = core.fingerprint();
    const offers = core.book(query, 1000);
    expect(offers.ok && offers.value.map((r) => r.orderId)).toEqual([cheap, dear]);
    const dc = core.book({ ...query, ipClasses: ["datacenter"] }, 1000);
    expect(dc.ok && dc.value.map((r) => r.orderId)).toEqual([dear]);
    const req = oid();
    ok(core, {
      type: "PlaceOrder",
      id: req,
      spec: requestSpec(R1, { maxPrice: 1n, countries: ["FR"] }),
    });
    const fr = core.book({ ...query, side: "request", countries: ["FR"] }, 1000);
    expect(fr.ok && fr.value.map((r) => r.orderId)).toEqual([req]);
    const de = core.book({ ...query, side: "request" }, 1000);
    expect(de.ok && de.value).toEqual([]);
    expect(core.book({ ...query, kind: "boat" }, 1000).ok).toBe(false);
    expect(before).not.toBe(core.fingerprint()); // the request was placed in between
  });
});
