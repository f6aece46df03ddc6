/**
 * Matcher benchmark: one core, a book of 1,000,000 resting offers over realistic attribute
 * buckets, then a stream of 60% new orders (offers and resting requests), 30% cancels and 10%
 * matching requests. Reports throughput and per-operation latency percentiles (HdrHistogram,
 * warm-up excluded).
 *
 *   node bench/matcher.ts [--json] [--book 1000000] [--ops 1000000] [--warmup 300000] [--seed 1]
 *
 * `opsPerSec` is wall-clock throughput; `opsPerCpuSec` divides by the CPU time this process
 * actually got, which is the fairer "one core" figure on a shared machine.
 */
import { performance } from "node:perf_hooks";
import Table from "cli-table3";
import hdr from "hdr-histogram-js";
import {
  Matcher,
  type MatcherRejection,
  type OfferInput,
  type RequestInput,
} from "../engine/market/book/index.ts";

const args = process.argv.slice(2);
const json = args.includes("--json");
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const BOOK = opt("book", 1_000_000);
const OPS = opt("ops", 1_000_000);
const WARMUP = opt("warmup", 300_000);
const SEED = opt("seed", 1);
const progress = (msg: string) => process.stderr.write(`[bench:matcher] ${msg}\n`);

// ---- deterministic workload -----------------------------------------------------------------

let rng = SEED >>> 0 || 1;
/** xorshift32: the workload is the same on every run. */
function rand(): number {
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return rng / 0x1_0000_0000;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
/** Zipf-ish pick in 0..n-1: a few popular values, a long tail. */
const zipf = (n: number) => Math.min(n - 1, Math.floor(n * rand() ** 2.2));

const COUNTRIES = 40;
const COUNTRY_CODES = Array.from({ length: COUNTRIES }, (_, i) => (i * 17) % 676).sort(
  (a, b) => a - b,
);
const REGIONS_PER_COUNTRY = 6;
const ASNS_PER_COUNTRY = 20;
const HORIZON = 1e15; // orders in the bench do not expire

function pickKindUnit(): [number, number] {
  const r = rand();
  if (r < 0.7) return [0, rand() < 0.6 ? 0 : 1]; // ip: per second or per GiB
  if (r < 0.9) return [1, 1]; // tunnel: per GiB
  return [2, 0]; // fast lane: per second
}
const classBit = () => {
  const r = rand();
  return r < 0.55 ? 1 : r < 0.9 ? 2 : 4;
};
const protoMask = () => {
  const r = rand();
  return r < 0.6 ? 3 : r < 0.85 ? 7 : 4;
};
const basePrice = (kind: number, unit: number) => (kind === 2 ? 400 : unit === 0 ? 100 : 2000);

function makeOffer(owner: number, crossing: boolean): OfferInput {
  const [kind, unit] = pickKindUnit();
  const ci = zipf(COUNTRIES);
  const base = basePrice(kind, unit);
  // ~100 price levels per bucket above the base; a crossing offer undercuts resting requests.
  const price = crossing
    ? randInt(Math.floor(base * 0.5), Math.floor(base * 0.8))
    : base + zipf(100) * Math.ceil(base / 100);
  return {
    owner,
    kind,
    unit,
    country: COUNTRY_CODES[ci]!,
    region: ci * REGIONS_PER_COUNTRY + 1 + zipf(REGIONS_PER_COUNTRY),
    asn: 1000 + ci * ASNS_PER_COUNTRY + zipf(ASNS_PER_COUNTRY),
    ipClass: classBit(),
    protocols: protoMask(),
    bandwidthMbps: [10, 50, 100, 500, 1000][zipf(5)]!,
    minDurationS: [5, 5, 60, 300][zipf(4)]!,
    maxDurationS: [3600, 86_400, 2_592_000][zipf(3)]!,
    maxStickyS: [0, 600, 1800, 86_400][zipf(4)]!,
    exitPolicies: rand() < 0.7 ? 7 : 1,
    price,
    quantity: randInt(1, 20),
    expiresAt: HORIZON,
  };
}

function makeRequest(owner: number, matching: boolean): RequestInput {
  const [kind, unit] = pickKindUnit();
  const base = basePrice(kind, unit);
  const nc = rand() < 0.7 ? 1 : rand() < 0.8 ? 2 : 3;
  const set = new Set<number>();
  while (set.size < nc) set.add(COUNTRY_CODES[zipf(COUNTRIES)]!);
  const countries = [...set].sort((a, b) => a - b);
  const ci = COUNTRY_CODES.indexOf(countries[0]!);
  return {
    owner,
    kind,
    unit,
    countries,
    regions:
      rand() < 0.15 && nc === 1 ? [ci * REGIONS_PER_COUNTRY + 1 + zipf(REGIONS_PER_COUNTRY)] : [],
    asns: rand() < 0.1 && nc === 1 ? [1000 + ci * ASNS_PER_COUNTRY + zipf(ASNS_PER_COUNTRY)] : [],
    ipClasses: rand() < 0.5 ? classBit() : 0,
    protocols: rand() < 0.6 ? [1, 2, 4][zipf(3)]! : 0,
    minBandwidthMbps: rand() < 0.3 ? 50 : 0,
    minRatingMilli: 0,
    minCompletedDeals: 0,
    // A matching request reaches well into the ladder; a resting one bids under every offer.
    maxPrice: matching
      ? base + randInt(20, 80) * Math.ceil(base / 100)
      : randInt(Math.floor(base * 0.5), Math.floor(base * 0.9)),
    durationS: [60, 600, 3600][zipf(3)]!,
    stickyS: rand() < 0.3 ? 600 : 0,
    exitPolicy: 1,
    // The mix adds more than it removes: the book grows from 1.0M to about 1.5M over a run.
    quantity: matching ? randInt(1, 10) : randInt(1, 5),
    expiresAt: HORIZON,
  };
}

const OWNERS = 5000;
const OFFER_POOL = 1 << 16;
const offers = Array.from({ length: OFFER_POOL }, (_, i) => makeOffer(i % OWNERS, i % 50 === 0));
const restingRequests = Array.from({ length: 1 << 14 }, (_, i) =>
  makeRequest(OWNERS + (i % OWNERS), false),
);
const matchingRequests = Array.from({ length: 1 << 14 }, (_, i) =>
  makeRequest(OWNERS + (i % OWNERS), true),
);

// ---- run ------------------------------------------------------------------------------------

// Pre-allocated for the whole run: the store never grows (copies) while it is being timed.
const matcher = new Matcher({ capacity: Math.ceil(BOOK * 2.2) });
const live = new Float64Array(Math.ceil(BOOK * 2.5));
let liveN = 0;
const isErr = (r: number | MatcherRejection): r is MatcherRejection => typeof r !== "number";

progress(`filling the book with ${BOOK.toLocaleString()} offers`);
const t0 = performance.now();
for (let i = 0; liveN < BOOK; i++) {
  const o = offers[i & (OFFER_POOL - 1)]!;
  const r = matcher.placeOffer(o, 0);
  if (!isErr(r) && matcher.takerLeft > 0) live[liveN++] = r;
}
const fillMs = performance.now() - t0;
progress(`book filled in ${fillMs.toFixed(0)} ms: ${matcher.size.toLocaleString()} resting orders`);

let oi = 0;
let ri = 0;
let mi = 0;
let fills = 0;
let cancelMisses = 0;
/** Runs one operation of the mix; returns nothing so that timing covers only the matcher. */
function op(): void {
  const r = rand();
  if (r < 0.6) {
    if (r < 0.48) {
      const id = matcher.placeOffer(offers[oi++ & (OFFER_POOL - 1)]!, 1);
      if (!isErr(id) && matcher.takerLeft > 0 && liveN < live.length) live[liveN++] = id;
    } else {
      const id = matcher.placeRequest(restingRequests[ri++ & 16383]!, 1);
      if (!isErr(id) && matcher.takerLeft > 0 && liveN < live.length) live[liveN++] = id;
    }
    fills += matcher.out.count;
  } else if (r < 0.9) {
    if (liveN === 0) return;
    const k = Math.floor(rand() * liveN);
    const id = live[k]!;
    live[k] = live[--liveN]!;
    if (isErr(matcher.cancel(id))) cancelMisses++;
  } else {
    matcher.placeRequest(matchingRequests[mi++ & 16383]!, 1);
    fills += matcher.out.count;
  }
}

progress(`warm-up: ${WARMUP.toLocaleString()} operations`);
for (let i = 0; i < WARMUP; i++) op();

// Pass 1, throughput: no timer per operation, chunks of 10,000 timed.
progress(`throughput pass: ${OPS.toLocaleString()} operations`);
fills = 0;
cancelMisses = 0;
const deadline = performance.now() + 45_000;
let done = 0;
const cpu0 = process.cpuUsage();
const tp0 = performance.now();
while (done < OPS && performance.now() < deadline) {
  for (let i = 0; i < 10_000; i++) op();
  done += 10_000;
}
const tpMs = performance.now() - tp0;
const cpu = process.cpuUsage(cpu0);
const opsPerSec = done / (tpMs / 1000);
// The machine is shared: ops per second of CPU time this process got says what one core does.
const opsPerCpuSec = done / ((cpu.user + cpu.system) / 1e6);
const fillsPerOp = fills / done;

// Pass 2, latency: every operation timed on its own into an HdrHistogram (nanoseconds).
progress(`latency pass: ${OPS.toLocaleString()} operations`);
const hist = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 10_000_000_000,
  numberOfSignificantValueDigits: 3,
});
const lat0 = performance.now();
const latDeadline = lat0 + 45_000;
let latDone = 0;
while (latDone < OPS && performance.now() < latDeadline) {
  for (let i = 0; i < 10_000; i++) {
    const a = performance.now();
    op();
    const ns = Math.round((performance.now() - a) * 1e6);
    hist.recordValue(ns > 0 ? ns : 1);
  }
  latDone += 10_000;
}
const us = (p: number) => hist.getValueAtPercentile(p) / 1000;

const report = {
  bench: "matcher",
  node: process.version,
  bookSize: BOOK,
  finalBookSize: matcher.size,
  operations: done,
  mix: { newOrders: 0.6, cancels: 0.3, matchingRequests: 0.1 },
  opsPerSec: Math.round(opsPerSec),
  opsPerCpuSec: Math.round(opsPerCpuSec),
  p50Us: us(50),
  p90Us: us(90),
  p99Us: us(99),
  p999Us: us(99.9),
  maxUs: hist.maxValue / 1000,
  meanUs: hist.mean / 1000,
  fillsPerOp: Number(fillsPerOp.toFixed(4)),
  cancelMisses,
  bookFillMs: Math.round(fillMs),
  latencyOps: latDone,
  targets: { opsPerSec: 1_000_000, p99Us: 20 },
  meetsTargets: opsPerSec >= 1_000_000 && us(99) <= 20,
};

if (json) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  const t = new Table({ head: ["metric", "value", "target"] });
  t.push(
    ["resting offers at start", BOOK.toLocaleString(), "1,000,000"],
    ["operations (throughput pass)", done.toLocaleString(), ""],
    ["ops/s (wall clock)", Math.round(opsPerSec).toLocaleString(), ">= 1,000,000"],
    ["ops per CPU-second", Math.round(opsPerCpuSec).toLocaleString(), ""],
    ["p50 (µs)", us(50).toFixed(2), ""],
    ["p90 (µs)", us(90).toFixed(2), ""],
    ["p99 (µs)", us(99).toFixed(2), "<= 20"],
    ["p99.9 (µs)", us(99.9).toFixed(2), ""],
    ["max (µs)", (hist.maxValue / 1000).toFixed(1), ""],
    ["fills per op", fillsPerOp.toFixed(3), ""],
    ["book size at end", matcher.size.toLocaleString(), ""],
  );
  process.stdout.write(`${t.toString()}\n`);
}
