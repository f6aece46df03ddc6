/**
 * The market's HTTP API (fastify, schema-validated) and WebSocket push stream.
 *
 * Every body is checked against a JSON schema, every signature is verified in the worker
 * pool, and every refusal is a 4xx with `{ code, reason }` where `code` is a
 * {@link MarketErrorCode}: nothing changes on a refusal.
 */
import { randomBytes } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { BookQuery, MarketCommand } from "../core/market-core.ts";
import type { Deal } from "../deals/deal-protocol.ts";
import {
  type Address,
  type DealId,
  MarketError,
  type MarketErrorCode,
  type OfferSpec,
  type OrderId,
  type RequestSpec,
} from "../types.ts";
import type { MarketService } from "./market-service.ts";
import {
  acceptBody,
  addressParams,
  amendBody,
  bookQuery,
  cancelBody,
  channelReadyBody,
  dealIdParams,
  orderIdParams,
  placeBody,
  ratingBody,
  rejectBody,
} from "./schemas.ts";
import {
  type MarketTypeName,
  offerMessage,
  requestMessage,
  type TypedMessage,
} from "./typed-data.ts";

const STATUS: Record<MarketErrorCode, number> = {
  INVALID_BODY: 400,
  INVALID_PRICE: 400,
  INVALID_QUANTITY: 400,
  INVALID_DURATION: 400,
  INVALID_ATTRIBUTE: 400,
  BAD_SIGNATURE: 401,
  WRONG_SIGNER: 403,
  NOT_A_PARTY: 403,
  SIGNATURE_EXPIRED: 410,
  ORDER_EXPIRED: 410,
  REPLAYED: 409,
  ALREADY_ACCEPTED: 409,
  ALREADY_RATED: 409,
  BAD_DEAL_STATE: 409,
  INSUFFICIENT_CAPACITY: 409,
  ORDER_NOT_FOUND: 404,
  DEAL_NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  BOOK_FULL: 503,
  OWNER_ORDER_LIMIT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  JOURNAL_CORRUPT: 500,
  NO_CHAIN_ID: 500,
};

/** JSON with bigints as decimal strings. */
function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .type("application/json")
    .send(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

function fail(code: MarketErrorCode, reason: string): never {
  throw new MarketError(code, reason);
}

/** A request budget: at most `max` in any window of `windowMs`. */
export interface RateBudget {
  readonly max: number;
  readonly windowMs: number;
}

/** Default budget of requests per client IP address, over every route. */
export const DEFAULT_PER_IP_LIMIT: RateBudget = { max: 6_000, windowMs: 60_000 };
/** Default budget of order writes (place, amend, cancel) per signing key. */
export const DEFAULT_PER_KEY_LIMIT: RateBudget = { max: 600, windowMs: 60_000 };

/** Options of the HTTP server. */
export interface MarketServerOptions {
  /** Log requests (default false). */
  readonly logger?: boolean;
  /**
   * Requests per client IP address, over every route, counted before the body is read
   * (default {@link DEFAULT_PER_IP_LIMIT}; `false` turns it off).
   */
  readonly perIpLimit?: RateBudget | false;
  /**
   * Order writes per signing key, counted once the signature is verified, so that no one can
   * spend another key's budget (default {@link DEFAULT_PER_KEY_LIMIT}; `false` turns it off).
   */
  readonly perKeyLimit?: RateBudget | false;
  /**
   * IP addresses the per-IP limiter remembers, least recent forgotten first (default 5,000;
   * the per-key limiter keeps the plugin's own bound of 5,000 keys).
   */
  readonly rateLimitClients?: number;
}

/**
 * Builds the fastify app for a market service (call `listen` on it).
 *
 * @example
 * const svc = await MarketService.open({ dir: "./market-db", chainId: 31337 });
 * const app = await buildMarketServer(svc, { perIpLimit: { max: 600, windowMs: 60_000 } });
 * await app.listen({ host: "127.0.0.1", port: 8080 });
 */
export async function buildMarketServer(
  svc: MarketService,
  opts: MarketServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    // Unknown fields are an error, not silently dropped: what was signed is what is validated.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    // Bytes that are not HTTP get a typed answer too, then the connection is closed.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return void socket.destroy();
      const tooBig = (err as { code?: string }).code === "HPE_HEADER_OVERFLOW";
      const text = JSON.stringify({ code: "INVALID_BODY", reason: "malformed HTTP request" });
      socket.end(
        `HTTP/1.1 ${tooBig ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
          `Connection: close\r\n\r\n${text}`,
      );
    },
  });
  await app.register(websocket, { options: { maxPayload: 4096 } });

  // Over budget: 429 RATE_LIMITED with Retry-After (seconds). The plugin sets the headers and
  // throws what this builds, which the error handler below turns into the usual body.
  const perIp = opts.perIpLimit ?? DEFAULT_PER_IP_LIMIT;
  const perKey = opts.perKeyLimit ?? DEFAULT_PER_KEY_LIMIT;
  await app.register(rateLimit, {
    global: perIp !== false,
    max: perIp === false ? 0 : perIp.max,
    timeWindow: perIp === false ? 0 : perIp.windowMs,
    cache: opts.rateLimitClients ?? 5_000,
    errorResponseBuilder: (_req, ctx) =>
      new MarketError("RATE_LIMITED", `too many requests from this address, retry in ${ctx.after}`),
  });
  /** The verified signer of an order write, for the per-key limiter's key. */
  const signerOf = new WeakMap<FastifyRequest, Address>();
  const keyLimiter =
    perKey === false
      ? undefined
      : app.createRateLimit({
          max: perKey.max,
          timeWindow: perKey.windowMs,
          keyGenerator: (req) => signerOf.get(req) ?? "",
        });
  /**
   * Counts an order write against its signer's budget.
   * @throws MarketError `RATE_LIMITED` (with Retry-After set) when the key is over it.
   */
  async function chargeKey(req: FastifyRequest, reply: FastifyReply, signer: Address) {
    if (!keyLimiter) return;
    signerOf.set(req, signer);
    const r = await keyLimiter(req);
    if (r.isAllowed || !r.isExceeded) return;
    reply.header("retry-after", r.ttlInSeconds);
    fail("RATE_LIMITED", `too many order writes by ${signer}, retry in ${r.ttlInSeconds} s`);
  }

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof MarketError)
      return json(reply, STATUS[err.code], { code: err.code, reason: err.shortMessage });
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation || (e.statusCode && e.statusCode < 500)) {
      return json(reply, 400, { code: "INVALID_BODY", reason: e.message });
    }
    reply.log.error(err);
    return json(reply, 500, { code: "INTERNAL", reason: "internal error" });
  });
  app.setNotFoundHandler((_req, reply) =>
    json(reply, 404, { code: "NOT_FOUND", reason: "no such route" }),
  );

  /** Verifies a signature in the worker pool; returns the digest and the signer. */
  async function verify(type: MarketTypeName, msg: TypedMessage, sig: string) {
    const v = await svc.verify(type, msg, sig);
    if (!v.ok) {
      if (v.code === "VALUE_OUT_OF_RANGE")
        fail("INVALID_BODY", "a value does not fit its signed type");
      fail("BAD_SIGNATURE", "the signature is invalid");
    }
    return v.value;
  }

  app.post("/orders", { schema: { body: placeBody } }, async (req, reply) => {
    const body = req.body as { order: Record<string, unknown>; signature: string };
    const spec = parseOrder(body.order);
    const msg = spec.side === "offer" ? offerMessage(spec) : requestMessage(spec);
    const { digest, signer } = await verify(
      spec.side === "offer" ? "Offer" : "Request",
      msg,
      body.signature,
    );
    await chargeKey(req, reply, signer);
    if (signer !== spec.owner) fail("WRONG_SIGNER", "the order is not signed by its owner");
    const events = await svc.placeOrder({ type: "PlaceOrder", id: digest as OrderId, spec });
    const order = svc.core.order(digest)!;
    const deals = events.flatMap((e) => (e.type === "Matched" ? [e.deal] : []));
    return json(reply, 201, { orderId: digest, status: order.status, open: order.open, deals });
  });

  app.post(
    "/orders/:id/amend",
    { schema: { params: orderIdParams, body: amendBody } },
    async (req, reply) => {
      const id = (req.params as { id: string }).id.toLowerCase() as OrderId;
      const b = req.body as {
        price: string;
        quantity: number;
        nonce: string;
        expiry: number;
        signature: string;
      };
      const msg = {
        orderId: id,
        price: BigInt(b.price),
        quantity: b.quantity,
        nonce: BigInt(b.nonce),
        expiry: b.expiry,
      };
      const { digest, signer } = await verify("AmendOrder", msg, b.signature);
      await chargeKey(req, reply, signer);
      const events = await svc.execute({
        type: "AmendOrder",
        digest,
        orderId: id,
        signer,
        price: msg.price,
        quantity: b.quantity,
        expiry: b.expiry,
      });
      const order = svc.core.order(id)!;
      const deals = events.flatMap((e) => (e.type === "Matched" ? [e.deal] : []));
      return json(reply, 200, { orderId: id, status: order.status, open: order.open, deals });
    },
  );

  app.post(
    "/orders/:id/cancel",
    { schema: { params: orderIdParams, body: cancelBody } },
    async (req, reply) => {
      const id = (req.params as { id: string }).id.toLowerCase() as OrderId;
      const b = req.body as { nonce: string; expiry: number; signature: string };
      const { digest, signer } = await verify(
        "CancelOrder",
        { orderId: id, nonce: BigInt(b.nonce), expiry: b.expiry },
        b.signature,
      );
      await chargeKey(req, reply, signer);
      await svc.execute({ type: "CancelOrder", digest, orderId: id, signer, expiry: b.expiry });
      return json(reply, 200, { orderId: id, status: "cancelled" });
    },
  );

  app.get("/orders/:id", { schema: { params: orderIdParams } }, async (req, reply) => {
    const o = svc.core.order((req.params as { id: string }).id.toLowerCase());
    if (!o) fail("ORDER_NOT_FOUND", "unknown order");
    return json(reply, 200, o);
  });

  app.get("/book", { schema: { querystring: bookQuery } }, async (req, reply) => {
    const q = req.query as Record<string, string | number | undefined>;
    const split = (v: unknown) => (typeof v === "string" && v.length > 0 ? v.split(",") : []);
    const query: BookQuery = {
      side: (q.side as "offer" | "request" | undefined) ?? "offer",
      kind: q.kind as string,
      priceUnit: q.priceUnit as string,
      countries: split(q.countries),
      regions: split(q.regions),
      asns: split(q.asns).map(Number),
      ipClasses: split(q.ipClasses),
      protocols: split(q.protocols),
      minBandwidthMbps: Number(q.minBandwidthMbps ?? 0),
      minRatingMilli: Number(q.minRatingMilli ?? 0),
      maxPrice: q.maxPrice === undefined ? BigInt(Number.MAX_SAFE_INTEGER) : BigInt(q.maxPrice),
      durationS: Number(q.durationS ?? 60),
      limit: Number(q.limit ?? 50),
    };
    const r = svc.core.book(query, svc.now());
    if (!r.ok) fail(r.code, r.reason);
    return json(reply, 200, { orders: r.value });
  });

  app.get("/deals/:id", { schema: { params: dealIdParams } }, async (req, reply) => {
    const d = svc.core.deal((req.params as { id: string }).id);
    if (!d) fail("DEAL_NOT_FOUND", "unknown deal");
    return json(reply, 200, d);
  });

  app.get("/wallets/:address/deals", { schema: { params: addressParams } }, async (req, reply) => {
    const a = (req.params as { address: string }).address.toLowerCase() as Address;
    return json(reply, 200, { deals: svc.core.dealsOf(a) });
  });

  app.get("/wallets/:address", { schema: { params: addressParams } }, async (req, reply) => {
    const a = (req.params as { address: string }).address.toLowerCase() as Address;
    return json(reply, 200, svc.core.wallet(a));
  });

  app.get("/profiles/:address", { schema: { params: addressParams } }, async (req, reply) => {
    const p = svc.core.profile(
      (req.params as { address: string }).address.toLowerCase() as Address,
    );
    if (!p) fail("PROFILE_NOT_FOUND", "no such provider");
    return json(reply, 200, p);
  });

  /**
   * A signed deal route: finds the deal, verifies the body's signature over `message`, and runs
   * the command `command` builds (which may refuse, e.g. a signer of the wrong side).
   */
  function dealRoute<B extends { signature: string }>(
    path: string,
    body: object,
    type: MarketTypeName,
    message: (id: DealId, b: B, deal: Deal) => TypedMessage,
    command: (
      id: DealId,
      b: B,
      signed: { digest: string; signer: Address },
      deal: Deal,
    ) => MarketCommand,
    answer: (id: DealId, b: B) => [number, unknown] = (id) => [200, svc.core.deal(id)],
  ): void {
    app.post(path, { schema: { params: dealIdParams, body } }, async (req, reply) => {
      const id = (req.params as { id: string }).id as DealId;
      const deal = svc.core.deal(id);
      if (!deal) fail("DEAL_NOT_FOUND", "unknown deal");
      const b = req.body as B;
      const signed = await verify(type, message(id, b, deal), b.signature);
      await svc.execute(command(id, b, signed, deal));
      const [status, out] = answer(id, b);
      return json(reply, status, out);
    });
  }

  dealRoute<{ signature: string }>(
    "/deals/:id/accept",
    acceptBody,
    "AcceptDeal",
    (id, _b, deal) => ({ dealId: id, maxCost: deal.maxCost }),
    (id, _b, { digest, signer }) => ({ type: "AcceptDeal", digest, dealId: id, signer }),
  );

  // The requester reports the deal's channel open, the provider its tunnel up; both signed, each
  // only by its own side of the deal.
  dealRoute<{ channelId: string; signature: string }>(
    "/deals/:id/channel",
    channelReadyBody,
    "ChannelReady",
    (id, b) => ({ dealId: id, channelId: b.channelId }),
    (id, _b, { signer }, deal) => {
      if (signer !== deal.requester)
        fail("WRONG_SIGNER", "only the deal's requester reports its channel");
      return { type: "ChannelReady", dealId: id };
    },
  );

  dealRoute<{ signature: string }>(
    "/deals/:id/tunnel",
    acceptBody,
    "TunnelUp",
    (id) => ({ dealId: id }),
    (id, _b, { signer }, deal) => {
      if (signer !== deal.provider)
        fail("WRONG_SIGNER", "only the deal's provider reports its tunnel");
      return { type: "TunnelUp", dealId: id };
    },
  );

  dealRoute<{ reason: string; signature: string }>(
    "/deals/:id/reject",
    rejectBody,
    "RejectDeal",
    (id, b) => ({ dealId: id, reason: b.reason }),
    (id, b, { digest, signer }) => ({
      type: "RejectDeal",
      digest,
      dealId: id,
      signer,
      reason: b.reason,
    }),
  );

  dealRoute<{ score: number; signature: string }>(
    "/deals/:id/rating",
    ratingBody,
    "Rating",
    (id, b) => ({ dealId: id, score: b.score }),
    (id, b, { digest, signer }) => ({
      type: "RateDeal",
      digest,
      dealId: id,
      signer,
      score: b.score,
    }),
    (id, b) => [
      201,
      { dealId: id, score: b.score, profile: svc.core.profile(svc.core.deal(id)!.provider) },
    ],
  );

  // Push: the client proves its wallet by signing a fresh challenge (StreamAuth), then
  // receives the matches and deal status changes addressed to it.
  app.route({
    method: "GET",
    url: "/stream",
    // A plain GET (no upgrade) gets a typed answer like every other refusal.
    handler: (_req, reply) =>
      json(reply, 426, { code: "INVALID_BODY", reason: "/stream is a WebSocket: upgrade" }),
    wsHandler: (socket) => streamSession(socket),
  });

  function streamSession(socket: import("ws").WebSocket): void {
    const challenge = `tollway-market:${randomBytes(16).toString("hex")}`;
    let unsubscribe: (() => void) | undefined;
    const send = (v: unknown) =>
      socket.send(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));
    send({ type: "challenge", challenge });
    socket.on("message", (raw: Buffer) => {
      void (async () => {
        let m: { type?: unknown; signature?: unknown };
        try {
          m = JSON.parse(raw.toString("utf8"));
        } catch {
          // Not JSON: answer with a typed error, keep the socket.
          send({ type: "error", code: "INVALID_BODY", reason: "not JSON" });
          return;
        }
        if (m.type !== "auth" || typeof m.signature !== "string" || unsubscribe) {
          send({ type: "error", code: "INVALID_BODY", reason: "expected one auth message" });
          return;
        }
        const v = await svc.verify("StreamAuth", { challenge }, m.signature);
        if (!v.ok) {
          send({ type: "error", code: "BAD_SIGNATURE", reason: "bad challenge signature" });
          return;
        }
        unsubscribe = svc.subscribe(v.value.signer, (e) => {
          const { to: _to, ...rest } = e;
          send(rest);
        });
        send({ type: "ready", address: v.value.signer });
      })();
    });
    socket.on("close", () => unsubscribe?.());
  }

  return app;
}

/** Turns a schema-checked order body into a spec (addresses lowercased, amounts as bigint). */
function parseOrder(o: Record<string, unknown>): OfferSpec | RequestSpec {
  const owner = (o.owner as string).toLowerCase() as Address;
  if (o.side === "offer") {
    return {
      side: "offer",
      owner,
      kind: o.kind as OfferSpec["kind"],
      priceUnit: o.priceUnit as OfferSpec["priceUnit"],
      country: o.country as string,
      region: (o.region as string | undefined) ?? "",
      asn: o.asn as number,
      ipClass: o.ipClass as OfferSpec["ipClass"],
      protocols: o.protocols as OfferSpec["protocols"],
      bandwidthMbps: o.bandwidthMbps as number,
      minDurationS: o.minDurationS as number,
      maxDurationS: o.maxDurationS as number,
      maxStickyS: o.maxStickyS as number,
      exitPolicies: o.exitPolicies as OfferSpec["exitPolicies"],
      price: BigInt(o.price as string),
      quantity: o.quantity as number,
      nonce: BigInt(o.nonce as string),
      expiry: o.expiry as number,
    };
  }
  return {
    side: "request",
    owner,
    kind: o.kind as RequestSpec["kind"],
    priceUnit: o.priceUnit as RequestSpec["priceUnit"],
    countries: (o.countries as string[] | undefined) ?? [],
    regions: (o.regions as string[] | undefined) ?? [],
    asns: (o.asns as number[] | undefined) ?? [],
    ipClasses: (o.ipClasses as RequestSpec["ipClasses"] | undefined) ?? [],
    protocols: (o.protocols as RequestSpec["protocols"] | undefined) ?? [],
    minBandwidthMbps: (o.minBandwidthMbps as number | undefined) ?? 0,
    minRatingMilli: (o.minRatingMilli as number | undefined) ?? 0,
    minCompletedDeals: (o.minCompletedDeals as number | undefined) ?? 0,
    maxPrice: BigInt(o.maxPrice as string),
    durationS: o.durationS as number,
    stickyS: (o.stickyS as number | undefined) ?? 0,
    exitPolicy: (o.exitPolicy as RequestSpec["exitPolicy"] | undefined) ?? "replace",
    quantity: o.quantity as number,
    volumeGib: (o.volumeGib as number | undefined) ?? 0,
    nonce: BigInt(o.nonce as string),
    expiry: o.expiry as number,
  };
}
