import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  buildMarketServer,
  MarketService,
  offerMessage,
} from "../../../engine/market/api/index.ts";
import {
  addressOf,
  body,
  newWallet,
  offerSpec,
  requestSpec,
  sign,
  signOrder,
} from "./helpers/signing.ts";

let dir: string;
let svc: MarketService;
let app: FastifyInstance;
let base: string;
let clock = Date.now();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-api-"));
  svc = await MarketService.open({
    dir,
    chainId: 31337,
    tickMs: 0,
    verifiers: 1,
    now: () => clock,
  });
  app = await buildMarketServer(svc);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const a = app.server.address();
  base = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
});
afterAll(async () => {
  await app.close();
  await svc.close();
  await rm(dir, { recursive: true, force: true });
});

async function post(path: string, payload: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof payload === "string" ? payload : body(payload),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
async function get(path: string) {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Opens the push stream for a wallet and collects what arrives. */
async function stream(w: ReturnType<typeof newWallet>) {
  const ws = new WebSocket(`${base.replace("http", "ws")}/stream`);
  const messages: Record<string, unknown>[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", async (raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === "challenge")
        ws.send(
          JSON.stringify({
            type: "auth",
            signature: await sign(w, svc.domain, "StreamAuth", { challenge: m.challenge }),
          }),
        );
      else if (m.type === "ready") resolve();
      else messages.push(m);
    });
  });
  await ready;
  return { ws, messages };
}

async function waitFor(pred: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("market HTTP API", () => {
  const provider = newWallet();
  const requester = newWallet();

  it("places signed orders, matches them, pushes the match to both parties and runs the deal", async () => {
    const ps = await stream(provider);
    const rs = await stream(requester);
    const offer = offerSpec(addressOf(provider), { price: 10n, quantity: 3 });
    const placed = await post("/orders", {
      order: offer,
      signature: await signOrder(provider, svc.domain, offer),
    });
    expect(placed.status).toBe(201);
    expect(placed.json).toMatchObject({ status: "open", open: 3, deals: [] });
    const offerId = placed.json.orderId as string;

    const book = await get("/book?kind=ip&priceUnit=second&countries=DE&protocols=socks5");
    expect(book.status).toBe(200);
    expect(
      (book.json.orders as { orderId: string; price: string }[]).map((o) => [o.orderId, o.price]),
    ).toEqual([[offerId, "10"]]);

    const req = requestSpec(addressOf(requester), { maxPrice: 12n, quantity: 2 });
    const r = await post("/orders", {
      order: req,
      signature: await signOrder(requester, svc.domain, req),
    });
    expect(r.status).toBe(201);
    const deals = r.json.deals as { id: string; maxCost: string; price: string }[];
    expect(deals).toHaveLength(1);
    expect(deals[0]!.price).toBe("10");
    const dealId = deals[0]!.id;
    await waitFor(
      () =>
        ps.messages.some((m) => m.type === "Matched") &&
        rs.messages.some((m) => m.type === "Matched"),
    );

    // Accepting reserves the maximum cost: without channel capacity the requester is refused.
    const acceptSig = await sign(requester, svc.domain, "AcceptDeal", {
      dealId,
      maxCost: BigInt(deals[0]!.maxCost),
    });
    const refused = await post(`/deals/${dealId}/accept`, { signature: acceptSig });
    expect(refused).toMatchObject({ status: 409, json: { code: "INSUFFICIENT_CAPACITY" } });
    await svc.execute({ type: "SetBalance", address: addressOf(requester), balance: 1_000_000n });
    expect((await post(`/deals/${dealId}/accept`, { signature: acceptSig })).status).toBe(200);
    expect((await post(`/deals/${dealId}/accept`, { signature: acceptSig })).json.code).toBe(
      "REPLAYED",
    );
    const pAccept = await post(`/deals/${dealId}/accept`, {
      signature: await sign(provider, svc.domain, "AcceptDeal", {
        dealId,
        maxCost: BigInt(deals[0]!.maxCost),
      }),
    });
    expect(pAccept.json).toMatchObject({ status: "accepted" });
    await waitFor(() =>
      rs.messages.some((m) => m.type === "DealStatus" && m.status === "accepted"),
    );
    expect(ps.messages.some((m) => m.type === "DealStatus" && m.status === "accepted")).toBe(true);

    expect((await get(`/wallets/${addressOf(requester)}`)).json).toMatchObject({
      balance: "1000000",
      reserved: deals[0]!.maxCost,
    });
    expect((await get(`/deals/${dealId}`)).json.status).toBe("accepted");
    expect(
      ((await get(`/wallets/${addressOf(provider)}/deals`)).json.deals as unknown[]).length,
    ).toBe(1);
    expect((await get(`/profiles/${addressOf(provider)}`)).json).toMatchObject({
      dealsCompleted: 0,
      ratingMilli: -1,
    });

    // The requester reports the channel and the provider the tunnel, each signed by its own
    // side; the deal runs its 60 s and completes.
    const channelId = `0x${"ab".repeat(32)}`;
    const channelBy = async (w: typeof provider) =>
      post(`/deals/${dealId}/channel`, {
        channelId,
        signature: await sign(w, svc.domain, "ChannelReady", { dealId, channelId }),
      });
    expect(await channelBy(provider)).toMatchObject({
      status: 403,
      json: { code: "WRONG_SIGNER" },
    });
    expect((await channelBy(requester)).json).toMatchObject({
      status: "accepted",
      channelReady: true,
    });
    const tunnelBy = async (w: typeof provider) =>
      post(`/deals/${dealId}/tunnel`, {
        signature: await sign(w, svc.domain, "TunnelUp", { dealId }),
      });
    expect(await tunnelBy(requester)).toMatchObject({
      status: 403,
      json: { code: "WRONG_SIGNER" },
    });
    expect((await tunnelBy(provider)).json).toMatchObject({ status: "active" });
    clock += 61_000;
    await svc.tick();
    await waitFor(() =>
      ps.messages.some((m) => m.type === "DealStatus" && m.status === "completed"),
    );
    const rating = await post(`/deals/${dealId}/rating`, {
      score: 5,
      signature: await sign(requester, svc.domain, "Rating", { dealId, score: 5 }),
    });
    expect(rating).toMatchObject({
      status: 201,
      json: { profile: { ratingMilli: 5000, dealsCompleted: 1 } },
    });
    const again = await post(`/deals/${dealId}/rating`, {
      score: 1,
      signature: await sign(requester, svc.domain, "Rating", { dealId, score: 1 }),
    });
    expect(again).toMatchObject({ status: 409, json: { code: "ALREADY_RATED" } });
    const byProvider = await post(`/deals/${dealId}/rating`, {
      score: 5,
      signature: await sign(provider, svc.domain, "Rating", { dealId, score: 5 }),
    });
    expect(byProvider).toMatchObject({ status: 403, json: { code: "NOT_A_PARTY" } });
    ps.ws.close();
    rs.ws.close();
  });

  it("amends and cancels with the owner's signature only", async () => {
    const offer = offerSpec(addressOf(provider), { price: 50n, country: "FR" });
    const id = (
      await post("/orders", {
        order: offer,
        signature: await signOrder(provider, svc.domain, offer),
      })
    ).json.orderId as string;
    const amend = { orderId: id, price: 40n, quantity: 2, nonce: 1n, expiry: 4_000_000_000 };
    const { orderId: _a, ...amendBody } = amend;
    const stranger = await post(`/orders/${id}/amend`, {
      ...amendBody,
      signature: await sign(requester, svc.domain, "AmendOrder", amend),
    });
    expect(stranger).toMatchObject({ status: 403, json: { code: "WRONG_SIGNER" } });
    const a = await post(`/orders/${id}/amend`, {
      ...amendBody,
      signature: await sign(provider, svc.domain, "AmendOrder", amend),
    });
    expect(a).toMatchObject({ status: 200, json: { open: 2 } });
    expect((await get(`/orders/${id}`)).json).toMatchObject({ price: "40", open: 2 });
    const cancel = { orderId: id, nonce: 2n, expiry: 4_000_000_000 };
    const c = await post(`/orders/${id}/cancel`, {
      nonce: cancel.nonce,
      expiry: cancel.expiry,
      signature: await sign(provider, svc.domain, "CancelOrder", cancel),
    });
    expect(c.status).toBe(200);
    expect((await get(`/orders/${id}`)).json.status).toBe("cancelled");
  });

  it("answers every bad input with a typed 4xx and changes nothing", async () => {
    const before = svc.core.fingerprint();
    const offer = offerSpec(addressOf(provider), { country: "IT" });
    const good = await signOrder(provider, svc.domain, offer);
    const cases: [
      string,
      Promise<{ status: number; json: Record<string, unknown> }>,
      number,
      string,
    ][] = [
      ["not JSON", post("/orders", "{nope"), 400, "INVALID_BODY"],
      [
        "missing field",
        post("/orders", { order: { ...offer, price: undefined }, signature: good }),
        400,
        "INVALID_BODY",
      ],
      [
        "unknown field",
        post("/orders", { order: { ...offer, extra: 1 }, signature: good }),
        400,
        "INVALID_BODY",
      ],
      [
        "bad enum",
        post("/orders", { order: { ...offer, ipClass: "satellite" }, signature: good }),
        400,
        "INVALID_BODY",
      ],
      [
        "tampered price",
        post("/orders", { order: { ...offer, price: 2n ** 200n }, signature: good }),
        403,
        "WRONG_SIGNER",
      ],
      [
        "garbage signature",
        post("/orders", { order: offer, signature: `0x${"11".repeat(65)}` }),
        401,
        "BAD_SIGNATURE",
      ],
      [
        "tampered order",
        post("/orders", { order: { ...offer, price: 1n }, signature: good }),
        403,
        "WRONG_SIGNER",
      ],
      [
        "signed by another wallet",
        post("/orders", { order: offer, signature: await signOrder(requester, svc.domain, offer) }),
        403,
        "WRONG_SIGNER",
      ],
      ["unknown order", get(`/orders/0x${"ab".repeat(32)}`), 404, "ORDER_NOT_FOUND"],
      ["malformed order id", get("/orders/xyz"), 400, "INVALID_BODY"],
      ["unknown deal", get("/deals/d-999999"), 404, "DEAL_NOT_FOUND"],
      ["unknown profile", get(`/profiles/0x${"cd".repeat(20)}`), 404, "PROFILE_NOT_FOUND"],
      [
        "accept unknown deal",
        post("/deals/d-999999/accept", { signature: good }),
        404,
        "DEAL_NOT_FOUND",
      ],
      [
        "reject unknown deal",
        post("/deals/d-999999/reject", { reason: "busy", signature: good }),
        404,
        "DEAL_NOT_FOUND",
      ],
      [
        "rate unknown deal",
        post("/deals/d-999999/rating", { score: 5, signature: good }),
        404,
        "DEAL_NOT_FOUND",
      ],
      ["bad book filter", get("/book?kind=ip&priceUnit=hour"), 400, "INVALID_BODY"],
      [
        "unknown IP class in a book filter",
        get("/book?kind=ip&priceUnit=second&ipClasses=residential,castle"),
        400,
        "INVALID_ATTRIBUTE",
      ],
      [
        "unknown protocol in a book filter",
        get("/book?kind=ip&priceUnit=second&protocols=gopher"),
        400,
        "INVALID_ATTRIBUTE",
      ],
    ];
    for (const [name, p, status, code] of cases) {
      const r = await p;
      expect([name, r.status, r.json.code]).toEqual([name, status, code]);
    }
    const huge = offerSpec(addressOf(provider), { price: 2n ** 200n });
    expect(
      await post("/orders", {
        order: huge,
        signature: await signOrder(provider, svc.domain, huge),
      }),
    ).toMatchObject({ status: 400, json: { code: "INVALID_PRICE" } });
    const expired = offerSpec(addressOf(provider), { expiry: 1 });
    const e = await post("/orders", {
      order: expired,
      signature: await signOrder(provider, svc.domain, expired),
    });
    expect(e).toMatchObject({ status: 410, json: { code: "SIGNATURE_EXPIRED" } });
    expect(svc.core.fingerprint()).toBe(before);
    // The same signed order twice: the second is a replay.
    expect((await post("/orders", { order: offer, signature: good })).status).toBe(201);
    expect(await post("/orders", { order: offer, signature: good })).toMatchObject({
      status: 409,
      json: { code: "REPLAYED" },
    });
  });

  it("signs exactly what ethers signs (digest parity)", async () => {
    const { TypedDataEncoder } = await import("ethers");
    const { MARKET_TYPES, typedDigest } = await import("../../../engine/market/api/index.ts");
    const { bytesToHex } = await import("../../../channels/index.ts");
    const msg = offerMessage(offerSpec(addressOf(provider)));
    expect(bytesToHex(typedDigest(svc.domain, "Offer", msg))).toBe(
      TypedDataEncoder.hash(svc.domain, { Offer: [...MARKET_TYPES.Offer] }, msg),
    );
  });
});
