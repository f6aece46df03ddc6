/**
 * Rate limits and the per-owner cap, over real sockets: per client IP on every route (from
 * several 127.x.y.z source addresses), per verified signing key on order writes, and the cap
 * on resting orders per owner, which holds across a restart. Then a byte-level flood of
 * hostile requests, after which an honest client is still served.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Wallet } from "ethers";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type MarketServerOptions, MarketService } from "../../../engine/market/api/index.ts";
import { createMarket, type RunningMarket } from "../../../engine/node/market.ts";
import { addressOf, body, newWallet, offerSpec, sign, signOrder } from "./helpers/signing.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function market(
  opts: MarketServerOptions & { maxRestingPerOwner?: number; dir?: string } = {},
): Promise<RunningMarket & { dir: string }> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "tollway-limits-")));
  const m = await createMarket({ dir, chainId: 31337, tickMs: 0, verifiers: 1, ...opts });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await m.close();
  };
  stops.push(async () => {
    await close();
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
  });
  return { ...m, close, dir };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** One HTTP request over a fresh socket from `from` (a 127.x.y.z address). */
function send(
  url: string,
  from: string,
  method: string,
  path: string,
  payload?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        localAddress: from,
        agent: false,
        headers:
          payload === undefined
            ? headers
            : {
                "content-type": "application/json",
                "content-length": String(Buffer.byteLength(payload)),
                ...headers,
              },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text);
          } catch {
            json = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

async function placeFrom(m: RunningMarket, from: string, w: Wallet, price = 10n) {
  const spec = offerSpec(addressOf(w), { price });
  return send(
    m.url,
    from,
    "POST",
    "/orders",
    body({ order: spec, signature: await signOrder(w, m.service.domain, spec) }),
  );
}

describe("per-IP rate limit", () => {
  it("stops one address with 429 RATE_LIMITED and Retry-After, and no other address", async () => {
    const m = await market({ perIpLimit: { max: 5, windowMs: 60_000 }, perKeyLimit: false });
    for (let i = 0; i < 5; i++)
      expect((await send(m.url, "127.0.0.2", "GET", "/orders/xyz")).status).toBe(400);
    const over = await send(m.url, "127.0.0.2", "GET", "/book?kind=ip&priceUnit=second");
    expect(over.status).toBe(429);
    expect(over.json.code).toBe("RATE_LIMITED");
    expect(Number(over.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(over.headers["retry-after"])).toBeLessThanOrEqual(60);
    // Every route shares the budget, signed posts included: nothing is verified or journaled.
    const before = m.service.core.fingerprint();
    expect((await placeFrom(m, "127.0.0.2", newWallet())).status).toBe(429);
    expect(m.service.core.fingerprint()).toBe(before);
    // A forwarded-for header does not buy a new budget (no proxy is trusted).
    const spoof = await send(
      m.url,
      "127.0.0.2",
      "GET",
      "/book?kind=ip&priceUnit=second",
      undefined,
      {
        "x-forwarded-for": "10.9.8.7",
      },
    );
    expect(spoof.status).toBe(429);
    for (const other of ["127.0.0.3", "127.1.2.3", "127.200.0.1"]) {
      const ok = await send(m.url, other, "GET", "/book?kind=ip&priceUnit=second");
      expect([other, ok.status]).toEqual([other, 200]);
      expect((await placeFrom(m, other, newWallet())).status).toBe(201);
    }
  });
});

describe("per-key rate limit", () => {
  it("counts order writes by the verified signer, so no one spends another key's budget", async () => {
    const m = await market({ perIpLimit: false, perKeyLimit: { max: 3, windowMs: 60_000 } });
    const alice = newWallet();
    const mallory = newWallet();
    // Mallory signs orders that claim to be Alice's: refused, and charged to Mallory.
    for (let i = 0; i < 3; i++) {
      const forged = offerSpec(addressOf(alice));
      const r = await send(
        m.url,
        "127.0.0.5",
        "POST",
        "/orders",
        body({ order: forged, signature: await signOrder(mallory, m.service.domain, forged) }),
      );
      expect(r.json.code).toBe("WRONG_SIGNER");
    }
    const blocked = await placeFrom(m, "127.0.0.5", mallory);
    expect(blocked.status).toBe(429);
    expect(blocked.json.code).toBe("RATE_LIMITED");
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(0);
    // Alice, from the same address, has her whole budget: three writes, then 429.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await placeFrom(m, "127.0.0.5", alice, BigInt(10 + i));
      expect(r.status).toBe(201);
      ids.push(r.json.orderId as string);
    }
    const cancel = { orderId: ids[0]!, nonce: 77n, expiry: 4_000_000_000 };
    const c = await send(
      m.url,
      "127.0.0.5",
      "POST",
      `/orders/${ids[0]}/cancel`,
      body({
        nonce: cancel.nonce,
        expiry: cancel.expiry,
        signature: await sign(alice, m.service.domain, "CancelOrder", cancel),
      }),
    );
    expect(c.status).toBe(200);
    expect((await placeFrom(m, "127.0.0.5", alice)).status).toBe(429);
    expect(m.service.core.restingOf(addressOf(alice))).toBe(1);
  });
});

describe("resting orders per owner", () => {
  it("refuses one more with 409 OWNER_ORDER_LIMIT, frees a slot on cancel, and holds across a restart", async () => {
    const opts = { perIpLimit: false, perKeyLimit: false, maxRestingPerOwner: 3 } as const;
    const m = await market(opts);
    const owner = newWallet();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await placeFrom(m, "127.0.0.7", owner, BigInt(20 + i));
      expect(r.status).toBe(201);
      ids.push(r.json.orderId as string);
    }
    const before = m.service.core.fingerprint();
    const full = await placeFrom(m, "127.0.0.7", owner);
    expect(full.status).toBe(409);
    expect(full.json.code).toBe("OWNER_ORDER_LIMIT");
    expect(m.service.core.fingerprint()).toBe(before);
    expect((await placeFrom(m, "127.0.0.7", newWallet())).status).toBe(201);

    const cancel = { orderId: ids[1]!, nonce: 5n, expiry: 4_000_000_000 };
    const c = await send(
      m.url,
      "127.0.0.7",
      "POST",
      `/orders/${ids[1]}/cancel`,
      body({
        nonce: cancel.nonce,
        expiry: cancel.expiry,
        signature: await sign(owner, m.service.domain, "CancelOrder", cancel),
      }),
    );
    expect(c.status).toBe(200);
    expect((await placeFrom(m, "127.0.0.7", owner, 30n)).status).toBe(201);
    expect((await placeFrom(m, "127.0.0.7", owner, 31n)).json.code).toBe("OWNER_ORDER_LIMIT");

    // After a restart the count is the same, and so is what replay decided. A lower cap now
    // does not undo what the old one let in.
    const fingerprint = m.service.core.fingerprint();
    await m.close();
    const again = await market({ ...opts, maxRestingPerOwner: 1, dir: m.dir });
    expect(again.service.core.fingerprint()).toBe(fingerprint);
    expect(again.service.core.restingOf(addressOf(owner))).toBe(3);
    expect((await placeFrom(again, "127.0.0.7", owner, 40n)).json.code).toBe("OWNER_ORDER_LIMIT");
  });
});

describe("hostile requests under the limits", () => {
  it("a flood of random bytes, paths, methods and headers from many addresses leaves the market serving", async () => {
    const m = await market({
      perIpLimit: { max: 40, windowMs: 60_000 },
      perKeyLimit: { max: 5, windowMs: 60_000 },
      maxRestingPerOwner: 5,
    });
    const before = m.service.core.fingerprint();
    const key = fc.constantFrom("toString", "__proto__", "constructor", "order", "signature", "x");
    const nested = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("v"), { maxLength: 4 }),
        fc.dictionary(key, tie("v"), { maxKeys: 4 }),
      ),
    })).v;
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
      nested.map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
      fc.constant(Buffer.from(`${"[".repeat(5000)}${"]".repeat(5000)}`)),
      fc.constant(Buffer.alloc(80 * 1024, 0x61)),
      fc
        .record({ order: nested, signature: fc.string() })
        .map((v) => Buffer.from(JSON.stringify(v))),
    );
    const path = fc.oneof(
      fc.constantFrom(
        "/orders",
        `/orders/0x${"ab".repeat(32)}/amend`,
        `/orders/0x${"ab".repeat(32)}/cancel`,
        "/orders/__proto__",
        "/book?kind=toString&priceUnit=__proto__",
        "/deals/d-1/accept",
        "/wallets/constructor",
        "/stream",
      ),
      fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 40 }),
        fc.constantFrom("GET", "POST", "PUT", "DELETE"),
        path,
        payload,
        async (host, method, p, bytes) => {
          const r = await send(
            m.url,
            `127.0.3.${host}`,
            method,
            p,
            method === "GET" ? undefined : bytes,
          );
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(typeof r.json.code).toBe("string");
        },
      ),
      { numRuns: 300 },
    );
    expect(m.service.core.fingerprint()).toBe(before);
    // Honest clients, from addresses the flood did not use, are served as usual.
    const w = newWallet();
    const placed = await placeFrom(m, "127.0.4.1", w);
    expect(placed.status).toBe(201);
    const read = await send(m.url, "127.0.4.2", "GET", `/orders/${placed.json.orderId}`);
    expect(read.status).toBe(200);
    expect(read.json.status).toBe("open");
  });
});

/** Writes raw bytes on a fresh socket from `from`; resolves with what came back. */
function raw(url: string, from: string, bytes: Uint8Array): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), localAddress: from });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.end(bytes);
  });
}

describe("bytes that are not HTTP", () => {
  it("get a typed 400 and a closed connection, and the market keeps serving", async () => {
    const m = await market({ perIpLimit: { max: 1_000, windowMs: 60_000 } });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 2048 }),
          fc.string().map((t) => Buffer.from(`GET /book HTTP/1.1\r\nHost: x\r\n${t}\r\n\r\n`)),
          fc.constant(Buffer.from(`GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`)),
        ),
        async (bytes) => {
          const answer = await raw(m.url, "127.0.5.1", bytes);
          const status = Number(answer.slice(9, 12));
          // Nothing at all is fine for bytes the parser drops on the floor; a reply is typed.
          if (answer.length > 0 && status >= 400) {
            expect(status).toBeLessThan(500);
            expect(answer).toMatch(/"code":"[A-Z_]+"/);
          }
        },
      ),
      { numRuns: 150 },
    );
    const placed = await placeFrom(m, "127.0.5.2", newWallet());
    expect(placed.status).toBe(201);
  });
});

describe("market service options", () => {
  it("refuses to open without a chain id", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollway-limits-"));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    await expect(
      MarketService.open({ dir, chainId: undefined as unknown as number, tickMs: 0 }),
    ).rejects.toMatchObject({ code: "NO_CHAIN_ID" });
  });
});
