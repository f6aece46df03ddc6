/**
 * Crash safety of the market as a real process: `tollway market` is SIGKILLed right after it
 * acknowledged a burst of signed orders (some matching into deals, snapshots being written
 * meanwhile), restarted on the same data directory, and must hold every order and deal it
 * acknowledged. Under strace, every acknowledged batch is fsync'd before its answer.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { marketDomain } from "../../../engine/market/api/index.ts";
import { type MarketProcess, startMarket } from "./helpers/market-process.ts";
import {
  addressOf,
  body,
  newWallet,
  offerSpec,
  requestSpec,
  signOrder,
} from "./helpers/signing.ts";

const dirs: string[] = [];
const running: MarketProcess[] = [];
afterAll(async () => {
  for (const m of running) await m.kill();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// No chain is reachable at this RPC: the market runs on the chain id it is given.
const global = (dir: string) => [
  "--rpc",
  "http://127.0.0.1:9",
  "--chain-id",
  "31337",
  "--data-dir",
  dir,
];
const domain = marketDomain(31337);

async function post(url: string, payload: unknown) {
  const res = await fetch(`${url}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(payload),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Signed offers and requests that cross: some fill into deals, some rest. */
async function signedOrders(n: number) {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const w = newWallet();
    const spec =
      i % 2 === 0
        ? offerSpec(addressOf(w), { price: BigInt(5 + (i % 7)), quantity: 2 })
        : requestSpec(addressOf(w), { maxPrice: BigInt(4 + (i % 9)), quantity: 1 });
    out.push({ order: spec, signature: await signOrder(w, domain, spec) });
  }
  return out;
}

describe("market crash", () => {
  it("every acknowledged order and deal survives a SIGKILL right after the answers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollway-market-crash-"));
    dirs.push(dir);
    const flags = ["--snapshot-every", "7"];
    const first = await startMarket(global(dir), flags);
    running.push(first);
    const acked = new Map<string, { status: string; open: number }>();
    const deals = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all((await signedOrders(30)).map((o) => post(first.url, o)));
      for (const a of answers) {
        expect(a.status).toBe(201);
        acked.set(a.json.orderId as string, a.json as never);
        for (const d of a.json.deals as { id: string }[]) deals.add(d.id);
      }
    }
    // Fire one more burst and kill the process the moment the first answers are in.
    const burst = (await signedOrders(30)).map((o) =>
      post(first.url, o).then((a) => {
        acked.set(a.json.orderId as string, a.json as never);
        for (const d of a.json.deals as { id: string }[]) deals.add(d.id);
        return a;
      }),
    );
    await Promise.race(burst);
    await first.kill();
    await Promise.allSettled(burst);
    expect(deals.size).toBeGreaterThan(0);

    const second = await startMarket(global(dir), flags);
    running.push(second);
    for (const [id] of acked) {
      const r = await fetch(`${second.url}/orders/${id}`);
      expect([id, r.status]).toEqual([id, 200]);
    }
    for (const id of deals) {
      const r = await fetch(`${second.url}/deals/${id}`);
      expect([id, r.status]).toEqual([id, 200]);
    }
    // And it goes on: a new order is accepted.
    const [next] = await signedOrders(1);
    expect((await post(second.url, next)).status).toBe(201);
    await second.kill();
  });

  it("fsyncs the journal before it answers", async (ctx) => {
    let strace = true;
    try {
      execFileSync("strace", ["-f", "-o", "/dev/null", "true"], { stdio: "ignore" });
    } catch {
      strace = false;
    }
    if (!strace) {
      console.log("skipped: strace is missing or may not trace here (ptrace not permitted)");
      ctx.skip();
    }
    const dir = await mkdtemp(join(tmpdir(), "tollway-market-fsync-"));
    dirs.push(dir);
    const trace = join(dir, "trace");
    const m = await startMarket(
      global(join(dir, "data")),
      ["--snapshot-every", "0"],
      ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", trace],
    );
    running.push(m);
    const countSyncs = async () =>
      (await readFile(trace, "utf8")).split("\n").filter((l) => /\b(fsync|fdatasync)\(/.test(l))
        .length;
    const before = await countSyncs();
    const orders = 12;
    // One at a time, so each is its own batch.
    for (const o of await signedOrders(orders)) expect((await post(m.url, o)).status).toBe(201);
    const syncs = (await countSyncs()) - before;
    await m.kill();
    expect(syncs).toBeGreaterThanOrEqual(orders);
  });
});
