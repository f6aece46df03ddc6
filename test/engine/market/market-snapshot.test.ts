/**
 * Journal snapshots: a core loaded from an image goes on exactly as the one it was taken of;
 * a market restarted from a snapshot and the entries after it holds what a full replay holds;
 * a damaged snapshot falls back to the one before it, or to the entries, or refuses to start
 * when what it covered was pruned. And the shell journals a command before applying it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { MarketService } from "../../../engine/market/api/index.ts";
import { type MarketCommand, MarketCore } from "../../../engine/market/core/index.ts";
import { decodeSnapshot, encodeSnapshot } from "../../../engine/market/journal/snapshot-codec.ts";
import { MarketError, type OrderId } from "../../../engine/market/types.ts";
import { CommandMaker, providers, type Step, streamArb } from "./helpers/command-stream.ts";
import { offerSpec } from "./helpers/signing.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "tollway-snapshot-"));
  dirs.push(d);
  return d;
}

// A small book that has to grow: images must carry grown stores and level pools too.
const CONFIG = { capacity: 64, timeouts: { acceptMs: 20_000, activateMs: 30_000 } };
const START = 1_000_000;

interface Entry {
  readonly cmd: MarketCommand;
  readonly now: number;
}

/** Runs steps on a core; returns every command with its time (refused ones included). */
function run(core: MarketCore, steps: readonly Step[]): Entry[] {
  const maker = new CommandMaker();
  const entries: Entry[] = [];
  let clock = START;
  for (const s of steps) {
    if (s.k === "time") {
      clock += s.ms;
      entries.push({ cmd: { type: "Tick" }, now: clock });
      core.apply({ type: "Tick" }, clock);
      continue;
    }
    const cmd = maker.toCommand(s, core);
    if (!cmd) continue;
    entries.push({ cmd, now: clock });
    if (core.apply(cmd, clock).ok) maker.accepted(cmd);
  }
  return entries;
}

const events = (core: MarketCore, e: Entry) => JSON.stringify(core.apply(e.cmd, e.now), big);
const big = (_k: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);

describe("core images", () => {
  it("a core loaded from an image taken at any point answers every later command as the original", () => {
    fc.assert(
      fc.property(streamArb, fc.double({ min: 0, max: 1, noNaN: true }), (steps, at) => {
        const entries = run(new MarketCore(CONFIG), steps);
        const cut = Math.floor(at * entries.length);
        const original = new MarketCore(CONFIG);
        for (const e of entries.slice(0, cut)) original.apply(e.cmd, e.now);
        // Through the bytes a snapshot writes, not just an object copy.
        const encoded = encodeSnapshot(cut - 1, original.image());
        const image = decodeSnapshot(encoded.manifest, encoded.chunks);
        expect(image.ok).toBe(true);
        if (!image.ok) return;
        const loaded = MarketCore.fromImage(CONFIG, image.value);
        expect(loaded.fingerprint()).toBe(original.fingerprint());
        for (const e of entries.slice(cut)) expect(events(loaded, e)).toBe(events(original, e));
        const full = new MarketCore(CONFIG);
        for (const e of entries) full.apply(e.cmd, e.now);
        expect(loaded.fingerprint()).toBe(full.fingerprint());
        expect(loaded.bookSize).toBe(full.bookSize);
      }),
      { numRuns: 150 },
    );
  });

  it("a tick the core says is not due changes nothing", () => {
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 0, max: 200_000 }), (steps, later) => {
        const core = new MarketCore(CONFIG);
        const entries = run(core, steps);
        const now = (entries.at(-1)?.now ?? START) + later;
        if (core.tickDue(now)) return;
        const before = core.fingerprint();
        const r = core.apply({ type: "Tick" }, now);
        expect(r).toEqual({ ok: true, value: [] });
        expect(core.fingerprint()).toBe(before);
      }),
      { numRuns: 150 },
    );
  });
});

/** Drives a service through steps; returns the reference core (every accepted command). */
async function drive(svc: MarketService, steps: readonly Step[], clock: { t: number }) {
  const maker = new CommandMaker();
  const reference = new MarketCore(CONFIG);
  for (const s of steps) {
    if (s.k === "time") {
      clock.t += s.ms;
      const now = clock.t;
      await svc.tick();
      reference.apply({ type: "Tick" }, now);
      continue;
    }
    const cmd = maker.toCommand(s, svc.core);
    if (!cmd) continue;
    const now = clock.t;
    try {
      await svc.execute(cmd);
      maker.accepted(cmd);
      expect(reference.apply(cmd, now).ok).toBe(true);
    } catch (e) {
      expect(e).toBeInstanceOf(MarketError);
    }
  }
  return reference;
}

async function openService(dir: string, clock: { t: number }, extra: object = {}) {
  return MarketService.open({
    dir,
    chainId: 31337,
    tickMs: 0,
    verifiers: 1,
    now: () => clock.t,
    snapshotIntervalMs: 0,
    snapshotOnClose: false,
    ...CONFIG,
    ...extra,
  });
}

/** The snapshots' sequence numbers in a closed journal, oldest first. */
async function snapshotsIn(dir: string): Promise<number[]> {
  const db = new ClassicLevel<string, string>(dir);
  const seqs: number[] = [];
  for await (const k of db.keys({ gte: "s:", lt: "s;" }))
    seqs.push(Number.parseInt(k.slice(2), 16));
  await db.close();
  return seqs;
}

async function withDb(dir: string, fn: (db: ClassicLevel<string, string>) => Promise<void>) {
  const db = new ClassicLevel<string, string>(dir);
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

const chunkKey = (seq: number, i: number) =>
  `t:${seq.toString(16).padStart(16, "0")}:${i.toString(16).padStart(6, "0")}`;

/** A journal with two snapshots (a third was pruned with its entries); the reference core. */
async function journalWithSnapshots() {
  const dir = await tempDir();
  const clock = { t: START };
  const svc = await openService(dir, clock, { snapshotEvery: 0 });
  const maker = new CommandMaker();
  const steps: Step[] = [];
  for (let i = 0; i < 12; i++) {
    steps.push({ k: "offer", p: i % 3, price: 1 + (i % 5), q: 2, cc: "DE" });
    steps.push({ k: "request", r: i % 2, price: 3, q: 1, cc: "DE" });
  }
  const reference = new MarketCore(CONFIG);
  let n = 0;
  for (const s of steps) {
    const cmd = maker.toCommand(s, svc.core)!;
    await svc.execute(cmd).catch(() => undefined);
    reference.apply(cmd, clock.t);
    if (++n % 8 === 0) await svc.snapshot();
  }
  await svc.close();
  const snaps = await snapshotsIn(dir);
  expect(snaps.length).toBe(2);
  return { dir, clock, reference, snaps };
}

describe("market journal snapshots", () => {
  it("a restart from a snapshot and the entries after it holds what every command built", async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, fc.integer({ min: 2, max: 15 }), async (steps, every) => {
        const dir = await tempDir();
        const clock = { t: START };
        const svc = await openService(dir, clock, { snapshotEvery: every });
        const reference = await drive(svc, steps, clock);
        expect(svc.core.fingerprint()).toBe(reference.fingerprint());
        await svc.close();
        const again = await openService(dir, clock, { snapshotEvery: every });
        expect(again.core.fingerprint()).toBe(reference.fingerprint());
        // What a snapshot covers is not replayed: at most what came after the newest one.
        if (again.loaded.snapshotSeq >= 0) expect(again.replayed).toBeLessThan(every * 2);
        expect(again.loaded.damagedSnapshots).toBe(0);
        await again.close();
      }),
      { numRuns: 12 },
    );
  });

  it("a damaged newest snapshot falls back to the one before it", async () => {
    for (const damage of ["changed", "missing", "manifest"] as const) {
      const { dir, clock, reference, snaps } = await journalWithSnapshots();
      const newest = snaps.at(-1)!;
      await withDb(dir, async (db) => {
        if (damage === "changed")
          await db.put(chunkKey(newest, 0), "not the snapshot that was written");
        else if (damage === "missing") await db.del(chunkKey(newest, 0));
        else await db.put(`s:${newest.toString(16).padStart(16, "0")}`, '{"format":1,"seq"');
      });
      const again = await openService(dir, clock);
      expect(again.loaded.snapshotSeq).toBe(snaps[0]);
      expect(again.loaded.damagedSnapshots).toBe(1);
      expect(again.core.fingerprint()).toBe(reference.fingerprint());
      await again.close();
    }
  });

  it("with every snapshot damaged it replays the entries, or refuses to start once they were pruned", async () => {
    // One snapshot, nothing pruned yet: a full replay stands in for it.
    const dir = await tempDir();
    const clock = { t: START };
    const svc = await openService(dir, clock);
    const reference = new MarketCore(CONFIG);
    for (let i = 0; i < 5; i++) {
      const cmd: MarketCommand = {
        type: "PlaceOrder",
        id: `0x${(i + 1).toString(16).padStart(64, "0")}` as OrderId,
        spec: offerSpec(providers[0]!, { price: BigInt(i + 1) }),
      };
      await svc.execute(cmd);
      reference.apply(cmd, clock.t);
    }
    await svc.snapshot();
    await svc.close();
    const [only] = await snapshotsIn(dir);
    await withDb(dir, (db) => db.del(chunkKey(only!, 0)));
    const again = await openService(dir, clock);
    expect(again.loaded).toEqual({ snapshotSeq: -1, replayed: 5, damagedSnapshots: 1 });
    expect(again.core.fingerprint()).toBe(reference.fingerprint());
    await again.close();

    // Two snapshots: the entries the older one covers are gone, so both damaged is fatal.
    const pruned = await journalWithSnapshots();
    await withDb(pruned.dir, async (db) => {
      for (const s of pruned.snaps) await db.put(chunkKey(s, 0), "garbage");
    });
    await expect(openService(pruned.dir, pruned.clock)).rejects.toMatchObject({
      code: "JOURNAL_CORRUPT",
    });
  });
});

describe("journal before apply", () => {
  it("a command reaches the core only once its journal entry is written", async () => {
    const dir = await tempDir();
    const clock = { t: START };
    const svc = await openService(dir, clock);
    const id = `0x${"ab".repeat(32)}` as OrderId;
    const placing = svc.execute({ type: "PlaceOrder", id, spec: offerSpec(providers[0]!) });
    // Nothing may see (or match against) an order a crash could still take back.
    expect(svc.core.order(id)).toBeUndefined();
    await placing;
    expect(svc.core.order(id)?.status).toBe("open");
    await svc.close();
  });

  it("a refused command is forgotten: a restart does not replay it", async () => {
    const dir = await tempDir();
    const clock = { t: START };
    const svc = await openService(dir, clock);
    const id = `0x${"cd".repeat(32)}` as OrderId;
    const cmd: MarketCommand = { type: "PlaceOrder", id, spec: offerSpec(providers[0]!) };
    await svc.execute(cmd);
    await expect(svc.execute(cmd)).rejects.toMatchObject({ code: "REPLAYED" });
    await svc.close();
    const again = await openService(dir, clock);
    expect(again.replayed).toBe(1);
    await again.close();
  });
});

describe("damaged journal files", () => {
  it("random bytes in the newest snapshot, or in its manifest, fall back to the one before it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }).map((b) => ({ chunk: Buffer.from(b) })),
          fc
            .oneof(
              fc.json(),
              fc.constantFrom(
                '{"__proto__":{"seq":0},"format":1}',
                '{"format":1,"seq":"toString","chunks":1,"bytes":1,"sha256":"x"}',
                `${"[".repeat(10_000)}`,
              ),
            )
            .map((m) => ({ manifest: m })),
        ),
        async (damage) => {
          const { dir, clock, reference, snaps } = await journalWithSnapshots();
          const newest = snaps.at(-1)!;
          await withDb(dir, async (db) => {
            if ("chunk" in damage)
              await db.put(chunkKey(newest, 0), damage.chunk as never, { valueEncoding: "view" });
            else await db.put(`s:${newest.toString(16).padStart(16, "0")}`, damage.manifest);
          });
          const again = await openService(dir, clock);
          expect(again.loaded.snapshotSeq).toBe(snaps[0]);
          expect(again.core.fingerprint()).toBe(reference.fingerprint());
          await again.close();
        },
      ),
      { numRuns: 8 },
    );
  });

  it("a mangled journal entry stops the start with JOURNAL_CORRUPT", async () => {
    for (const bad of ["{nope", "null", '{"now":1,"cmd":{"type":"PlaceOrder"}}', "[]"]) {
      const dir = await tempDir();
      const clock = { t: START };
      const svc = await openService(dir, clock);
      await svc.execute({
        type: "PlaceOrder",
        id: `0x${"ef".repeat(32)}` as OrderId,
        spec: offerSpec(providers[0]!),
      });
      await svc.close();
      await withDb(dir, (db) => db.put("0".repeat(16), bad));
      await expect(openService(dir, clock)).rejects.toMatchObject({ code: "JOURNAL_CORRUPT" });
    }
  });
});
