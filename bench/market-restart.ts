/**
 * Market restart benchmark: how long loading the journal takes with N resting orders, by full
 * replay (no snapshot: what every restart cost before snapshots) and from a snapshot plus a
 * tail of entries after it.
 *
 * The journal is filled through the market service (journal before apply, fsync'd batches),
 * with offers and requests that do not cross, so that all N rest in the book.
 *
 *   npm run bench:market-restart -- [--json] [--orders 100000] [--tail 1000]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MarketService } from "../engine/market/index.ts";
import { MarketJournal } from "../engine/market/journal/index.ts";
import type { Address, OfferSpec, OrderId, RequestSpec } from "../engine/market/types.ts";
import { printReport, progress } from "./lib/report.ts";

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ORDERS = opt("orders", 100_000);
const TAIL = opt("tail", 1_000);
const CONFIG = { capacity: 1 << 17 };
const countries = ["DE", "NL", "FR", "US", "GB", "JP", "BR", "IN"];
const owners = Array.from(
  { length: 256 },
  (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}` as Address,
);

function order(i: number, expiry: number): OfferSpec | RequestSpec {
  const owner = owners[i % owners.length]!;
  const cc = countries[i % countries.length]!;
  if (i % 4 !== 3)
    return {
      side: "offer",
      owner,
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
      price: BigInt(200 + (i % 97)),
      quantity: 1 + (i % 10),
      nonce: BigInt(i),
      expiry,
    };
  return {
    side: "request",
    owner,
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
    // Below every offer: nothing crosses, everything rests.
    maxPrice: BigInt(100 + (i % 40)),
    durationS: 600,
    stickyS: 0,
    exitPolicy: "replace",
    quantity: 1 + (i % 4),
    volumeGib: 0,
    nonce: BigInt(i),
    expiry,
  };
}

const orderId = (i: number) => `0x${(i + 1).toString(16).padStart(64, "0")}` as OrderId;

async function fill(svc: MarketService, from: number, to: number, expiry: number) {
  const WAVE = 2_000;
  for (let at = from; at < to; at += WAVE) {
    const wave: Promise<unknown>[] = [];
    for (let i = at; i < Math.min(to, at + WAVE); i++)
      wave.push(svc.execute({ type: "PlaceOrder", id: orderId(i), spec: order(i, expiry) }));
    await Promise.all(wave);
    if ((at / WAVE) % 10 === 0) progress(`[bench:market-restart] ${at.toLocaleString()} orders`);
  }
}

/** Loads the journal into a core; the ms it took and what it found. */
async function load(dir: string) {
  const journal = await MarketJournal.open(dir, { snapshotIntervalMs: 0, snapshotOnClose: false });
  const t0 = performance.now();
  const { core, stats } = await journal.load(CONFIG);
  const ms = performance.now() - t0;
  const fingerprint = core.fingerprint();
  const bookSize = core.bookSize;
  await journal.close();
  return { ms, stats, fingerprint, bookSize };
}

const dir = await mkdtemp(join(tmpdir(), "tollway-bench-restart-"));
try {
  const expiry = Math.floor(Date.now() / 1000) + 24 * 3600;
  const open = () =>
    MarketService.open({
      dir,
      chainId: 31337,
      tickMs: 0,
      verifiers: 1,
      snapshotEvery: 0,
      snapshotIntervalMs: 0,
      snapshotOnClose: false,
      maxRestingPerOwner: Number.POSITIVE_INFINITY,
      ...CONFIG,
    });
  progress(`[bench:market-restart] journaling ${ORDERS.toLocaleString()} orders`);
  let svc = await open();
  await fill(svc, 0, ORDERS, expiry);
  await svc.close();

  progress("[bench:market-restart] full replay");
  const full = await load(dir);

  progress("[bench:market-restart] snapshot");
  svc = await open();
  const t0 = performance.now();
  await svc.snapshot();
  const snapshotWriteMs = performance.now() - t0;
  await fill(svc, ORDERS, ORDERS + TAIL, expiry);
  await svc.close();

  progress("[bench:market-restart] snapshot and tail");
  const fromSnapshot = await load(dir);
  if (fromSnapshot.bookSize !== ORDERS + TAIL || full.bookSize !== ORDERS)
    throw new Error(`book sizes ${full.bookSize} and ${fromSnapshot.bookSize} are off`);

  const result = {
    orders: ORDERS,
    tail: TAIL,
    replayMsFull: Math.round(full.ms),
    replayMsSnapshot: Math.round(fromSnapshot.ms),
    snapshotTailReplayed: fromSnapshot.stats.replayed,
    snapshotWriteMs: Math.round(snapshotWriteMs),
  };
  printReport(
    `market restart with ${ORDERS.toLocaleString()} resting orders`,
    [
      { name: "load by full replay (ms)", value: result.replayMsFull },
      {
        name: `load from snapshot + ${TAIL.toLocaleString()} entries (ms)`,
        value: result.replayMsSnapshot,
      },
      { name: "snapshot write (ms)", value: result.snapshotWriteMs },
    ],
    result,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
