/**
 * HTTP API benchmark: signed order placement and book queries under autocannon.
 *
 * The market runs in a child process (fastify + the verifier worker pool + the level journal),
 * autocannon in this one. Orders are signed up front (native secp256k1), each with its own
 * nonce, so every request is a fresh, valid, signed order that the server must verify (in its
 * workers), match, journal durably and answer.
 *
 *   node bench/api.ts [--json] [--orders 20000] [--connections 32] [--query-seconds 8]
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak_256 } from "@noble/hashes/sha3.js";
import autocannon from "autocannon";
import Table from "cli-table3";
import secp256k1 from "secp256k1";
import {
  buildMarketServer,
  MarketService,
  marketDomain,
  offerMessage,
  requestMessage,
  typedDigest,
} from "../engine/market/index.ts";
import type { Address, OfferSpec, RequestSpec } from "../engine/market/types.ts";

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};

if (args[0] === "--serve") {
  // Child: run the market on 127.0.0.1, report the port, stop on SIGTERM.
  const dir = args[1]!;
  // The benchmark is one client on one address with one key per side: no limits.
  const svc = await MarketService.open({
    dir,
    tickMs: 1000,
    capacity: 1 << 17,
    chainId: 31337,
    maxRestingPerOwner: Number.POSITIVE_INFINITY,
  });
  const app = await buildMarketServer(svc, { perIpLimit: false, perKeyLimit: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const a = app.server.address();
  process.send?.({ port: typeof a === "object" && a ? a.port : 0 });
  process.on("SIGTERM", () => {
    void app
      .close()
      .then(() => svc.close())
      .then(() => process.exit(0));
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const json = args.includes("--json");
  const ORDERS = opt("orders", 20_000);
  const CONNECTIONS = opt("connections", 32);
  const QUERY_S = opt("query-seconds", 8);
  const progress = (m: string) => process.stderr.write(`[bench:api] ${m}\n`);

  // ---- sign the orders up front ------------------------------------------------------------
  const domain = marketDomain(31337);
  const keys = Array.from({ length: 64 }, () => {
    let k: Uint8Array;
    do k = randomBytes(32);
    while (!secp256k1.privateKeyVerify(k));
    const pub = secp256k1.publicKeyCreate(k, false);
    const addr =
      `0x${Buffer.from(keccak_256(pub.subarray(1)).subarray(12)).toString("hex")}` as Address;
    return { k, addr };
  });
  const sign = (digest: Uint8Array, k: Uint8Array) => {
    const { signature, recid } = secp256k1.ecdsaSign(digest, k);
    return `0x${Buffer.from(signature).toString("hex")}${(27 + recid).toString(16)}`;
  };
  const countries = ["DE", "NL", "FR", "US", "GB", "JP", "BR", "IN"];
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  progress(`signing ${ORDERS.toLocaleString()} orders`);
  const bodies: string[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const who = keys[i % keys.length]!;
    const cc = countries[i % countries.length]!;
    let body: string;
    if (i % 4 !== 3) {
      const spec: OfferSpec = {
        side: "offer",
        owner: who.addr,
        kind: "ip",
        priceUnit: "second",
        country: cc,
        region: `r${i % 5}`,
        asn: 1000 + (i % 20),
        ipClass: (["residential", "datacenter", "mobile"] as const)[i % 3]!,
        protocols: ["http", "socks5"],
        bandwidthMbps: 100,
        minDurationS: 5,
        maxDurationS: 86_400,
        maxStickyS: 600,
        exitPolicies: ["replace"],
        price: BigInt(100 + (i % 97)),
        quantity: 1 + (i % 10),
        nonce: BigInt(i),
        expiry,
      };
      body = JSON.stringify({
        order: { ...spec, price: String(spec.price), nonce: String(spec.nonce) },
        signature: sign(typedDigest(domain, "Offer", offerMessage(spec)), who.k),
      });
    } else {
      const spec: RequestSpec = {
        side: "request",
        owner: who.addr,
        kind: "ip",
        priceUnit: "second",
        countries: [cc],
        regions: [],
        asns: [],
        ipClasses: [],
        protocols: ["socks5"],
        minBandwidthMbps: 0,
        minRatingMilli: 0,
        minCompletedDeals: 0,
        maxPrice: BigInt(110 + (i % 40)),
        durationS: 600,
        stickyS: 0,
        exitPolicy: "replace",
        quantity: 1 + (i % 4),
        volumeGib: 0,
        nonce: BigInt(i),
        expiry,
      };
      body = JSON.stringify({
        order: { ...spec, maxPrice: String(spec.maxPrice), nonce: String(spec.nonce) },
        signature: sign(typedDigest(domain, "Request", requestMessage(spec)), who.k),
      });
    }
    bodies.push(body);
  }

  // ---- start the market -----------------------------------------------------------------
  const dir = await mkdtemp(join(tmpdir(), "tollway-bench-api-"));
  const child = fork(new URL(import.meta.url), ["--serve", dir], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m: { port: number }) => resolve(m.port));
    child.once("exit", (c) => reject(new Error(`server exited with ${c}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  progress(`market listening on ${url}`);

  try {
    // ---- signed order placement ---------------------------------------------------------
    progress(`placing ${ORDERS.toLocaleString()} signed orders over ${CONNECTIONS} connections`);
    let next = 0;
    const place = await autocannon({
      url,
      connections: CONNECTIONS,
      amount: ORDERS,
      timeout: 20,
      requests: [
        {
          method: "POST",
          path: "/orders",
          headers: { "content-type": "application/json" },
          setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
        },
      ],
    });
    const placeOk = place["2xx"];

    // ---- book queries -------------------------------------------------------------------
    progress(`querying the book for ${QUERY_S} s`);
    const paths = countries.flatMap((cc) => [
      `/book?kind=ip&priceUnit=second&countries=${cc}&limit=20`,
      `/book?kind=ip&priceUnit=second&countries=${cc}&protocols=socks5&ipClasses=residential&maxPrice=150&limit=20`,
    ]);
    let q = 0;
    const query = await autocannon({
      url,
      connections: CONNECTIONS,
      duration: QUERY_S,
      requests: [
        { method: "GET", setupRequest: (req) => ({ ...req, path: paths[q++ % paths.length]! }) },
      ],
    });

    const report = {
      bench: "api",
      node: process.version,
      connections: CONNECTIONS,
      orders: ORDERS,
      ordersAccepted: placeOk,
      ordersRejected: place.non2xx,
      errors: place.errors + place.timeouts,
      ordersPerSec: Math.round(placeOk / place.duration),
      p50Ms: place.latency.p50,
      p90Ms: place.latency.p90,
      p99Ms: place.latency.p99,
      maxMs: place.latency.max,
      queriesPerSec: Math.round(query["2xx"] / query.duration),
      queryP50Ms: query.latency.p50,
      queryP99Ms: query.latency.p99,
      queryErrors: query.non2xx + query.errors,
      verifier:
        "native secp256k1 in a worker_threads pool (cores − 1), batched per event-loop turn",
    };
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const t = new Table({ head: ["", "per second", "p50 ms", "p99 ms", "max ms", "non-2xx"] });
      t.push(
        [
          "signed order placement",
          report.ordersPerSec.toLocaleString(),
          report.p50Ms,
          report.p99Ms,
          report.maxMs,
          report.ordersRejected,
        ],
        [
          "book query",
          report.queriesPerSec.toLocaleString(),
          report.queryP50Ms,
          report.queryP99Ms,
          query.latency.max,
          report.queryErrors,
        ],
      );
      process.stdout.write(`${t.toString()}\n`);
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await rm(dir, { recursive: true, force: true });
  }
}
