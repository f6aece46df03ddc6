/**
 * OPEN for a channel that does not exist must not cost a chain lookup each time: the node keeps
 * "unknown" answers briefly, shares lookups in flight, caps how many run at once, and rate-limits
 * OPENs per connection. Checked against a live node whose directory counts its lookups (the
 * memory directory behind a counting shell), and as a model against a fake clock.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { Address, ChannelId } from "../../channels/types.ts";
import {
  type ChannelDirectory,
  channelIdOf,
  type MemoryDirectory,
  memoryDirectory,
} from "../../relay/provider/channel-directory.ts";
import { cachedDirectory } from "../../relay/provider/directory-cache.ts";
import type { ConnectionLimits } from "../../relay/provider/index.ts";
import type { ChannelRef } from "../../relay/requester/client.ts";
import { openWireConnection } from "../../relay/requester/wire-connection.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import {
  domain,
  keyOf,
  providerAddress,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";
import { expectHonestClientServed, type HonestTarget } from "./honest-client.ts";

/** A directory that counts its lookups and the most that ran at once, optionally slow. */
function counting(inner: ChannelDirectory, delayMs = 0) {
  const c = {
    lookups: 0,
    running: 0,
    maxRunning: 0,
    directory: {
      async lookup(q) {
        c.lookups++;
        c.running++;
        c.maxRunning = Math.max(c.maxRunning, c.running);
        try {
          if (delayMs > 0) await sleep(delayMs);
          return await inner.lookup(q);
        } finally {
          c.running--;
        }
      },
    } as ChannelDirectory,
  };
  return c;
}

let salts = 1_000n;

/** A node on a counting directory, and a way to register channels in it. */
async function nodeOn(limits: Partial<ConnectionLimits>, delayMs = 0) {
  const mem: MemoryDirectory = memoryDirectory();
  const count = counting(mem, delayMs);
  const p = await startProvider({ channels: count.directory, limits });
  const register = (key: Uint8Array, depositA: bigint, salt = salts++): ChannelRef => {
    const requester = createSigner(key).address as Address;
    const channelId = channelIdOf(requester, providerAddress as Address, salt, 7n);
    mem.add(channelId, requester, providerAddress, { depositA, depositB: 0n, settleWindow: 600 });
    return { channelId, salt, openBlock: 7n, depositA };
  };
  const target: HonestTarget = { url: p.node.url, channel: register };
  return { p, count, register, target };
}

const randomId = (i: number): ChannelId =>
  `0x${i.toString(16).padStart(8, "0")}${"ee".repeat(28)}` as ChannelId;

function openFrame(channelId: ChannelId, salt = 1n): Frame {
  return {
    type: "OPEN",
    channelId,
    salt,
    openBlock: 7n,
    dealId: "d",
    mode: "packet",
    unitPrice: 5n,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume: null,
  };
}

async function conn(url: string, label: string) {
  const signer = createSigner(keyOf(label));
  const wire = await openWireConnection({ url, signer, domain });
  const frames: Frame[] = [];
  wire.onFrame = (f) => frames.push(f);
  const errors = () => frames.flatMap((f) => (f.type === "ERROR" ? [f.code] : []));
  return { wire, frames, errors, signer };
}

describe("OPEN floods against a counting directory", () => {
  let n: Awaited<ReturnType<typeof nodeOn>>;
  let p: TestProvider;
  beforeAll(async () => {
    n = await nodeOn({ openRate: { perSecond: 5, burst: 10 }, negativeTtlMs: 60_000 });
    p = n.p;
  });
  afterAll(async () => {
    await p.stop();
    removeDir(p.dir);
  });

  it("one unknown channel costs one lookup, from any number of connections", async () => {
    const before = n.count.lookups;
    const conns = await Promise.all([0, 1, 2, 3, 4].map((i) => conn(p.node.url, `same-${i}`)));
    for (const c of conns) for (let i = 0; i < 40; i++) c.wire.send(openFrame(randomId(1)));
    await until(() => conns.every((c) => c.errors().length >= 40), 5_000, "every OPEN answered");
    expect(n.count.lookups - before).toBe(1);
    for (const c of conns) {
      // Each OPEN got exactly one answer with a code: unknown, or held back.
      expect(c.errors().length).toBe(40);
      expect(new Set(c.errors())).toEqual(new Set(["CHANNEL_UNKNOWN", "RATE_LIMITED"]));
      c.wire.close();
    }
  });

  it("a flood of distinct unknown channels costs at most the OPEN budget; the rest get RATE_LIMITED", async () => {
    const before = n.count.lookups;
    const c = await conn(p.node.url, "many-ids");
    const started = performance.now();
    for (let i = 0; i < 500; i++) c.wire.send(openFrame(randomId(1_000 + i)));
    await until(() => c.errors().length >= 500, 10_000, "every OPEN answered");
    const seconds = (performance.now() - started) / 1000;
    const lookups = n.count.lookups - before;
    // The bucket's burst, and its rate over the time the flood took.
    expect(lookups).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds) + 1);
    expect(c.errors().filter((e) => e === "CHANNEL_UNKNOWN").length).toBe(lookups);
    expect(c.errors().filter((e) => e === "RATE_LIMITED").length).toBe(500 - lookups);
    // A resume is never held back by the OPEN budget: it costs no lookup.
    c.wire.send({ ...openFrame(randomId(1)), resume: "no-such-session" } as Frame);
    await until(() => c.errors().length >= 501, 3_000, "resume answered");
    expect(c.errors().at(-1)).toBe("SESSION_UNKNOWN");
    c.wire.close();
    await expectHonestClientServed(n.target);
  });
});

describe("the negative cache", () => {
  it("is brief: a channel opened just after a refusal is served once the entry expires", async () => {
    const n = await nodeOn({ negativeTtlMs: 400 });
    try {
      const key = keyOf("late-opener");
      const c = await conn(n.p.node.url, "late-opener");
      const requester = createSigner(key).address as Address;
      const salt = 77n;
      const channelId = channelIdOf(requester, providerAddress as Address, salt, 7n);
      c.wire.send(openFrame(channelId, salt));
      await until(() => c.errors().length >= 1, 3_000, "refused");
      expect(c.errors()).toEqual(["CHANNEL_UNKNOWN"]);
      const lookups = n.count.lookups;
      // On chain now; the node still remembers it as unknown, for a moment.
      const ref = n.register(key, 1_000n, salt);
      c.wire.send(openFrame(channelId, salt));
      await until(() => c.errors().length >= 2, 3_000, "refused again");
      expect(c.errors()).toEqual(["CHANNEL_UNKNOWN", "CHANNEL_UNKNOWN"]);
      expect(n.count.lookups).toBe(lookups);
      await sleep(500);
      c.wire.send(openFrame(channelId, salt));
      const proof = { channelId, nonce: 1n, transferred: 5n };
      c.wire.send({ type: "PAY", ...proof, signature: c.signer.signBalanceProof(domain, proof) });
      await until(() => c.frames.some((f) => f.type === "READY"), 5_000, "READY");
      expect(ref.channelId).toBe(channelId);
      expect(n.count.lookups).toBe(lookups + 1);
      c.wire.close();
    } finally {
      await n.p.stop();
      removeDir(n.p.dir);
    }
  });

  it("a slow lookup is shared: by every query while it says unknown, by the same query otherwise", async () => {
    const mem = memoryDirectory();
    const count = counting(mem, 200);
    const cache = cachedDirectory(
      count.directory,
      { negativeTtlMs: 1_000, negativeEntries: 10, lookupsInFlight: 8 },
      () => performance.now(),
    );
    const query = (channelId: ChannelId, label: string) => ({
      channelId,
      requester: createSigner(keyOf(label)).address as Address,
      provider: providerAddress as Address,
      salt: 1n,
      openBlock: 1n,
    });
    const unknownId = randomId(70_000);
    const answers = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => cache.lookup(query(unknownId, `asker-${i}`))),
    );
    expect(answers.map((a) => (a.ok ? "ok" : a.code))).toEqual(Array(6).fill("CHANNEL_UNKNOWN"));
    expect(count.lookups).toBe(1);
    // An open channel: the owner's answer is not handed to anyone else.
    const owner = query(randomId(70_001), "owner");
    mem.add(owner.channelId, owner.requester, providerAddress, {
      depositA: 5n,
      depositB: 0n,
      settleWindow: 1,
    });
    const [mine, again, theirs] = await Promise.all([
      cache.lookup(owner),
      cache.lookup(owner),
      cache.lookup(query(owner.channelId, "intruder")),
    ]);
    expect(mine.ok && again.ok).toBe(true);
    expect(theirs.ok ? "ok" : theirs.code).toBe("CHANNEL_NOT_PARTICIPANT");
    expect(count.lookups).toBe(3);
    expect(cache.inFlight).toBe(0);
  });

  it("runs a bounded number of lookups at once; the others get DIRECTORY_BUSY", async () => {
    const n = await nodeOn({ lookupsInFlight: 3, openRate: { perSecond: 100, burst: 100 } }, 300);
    try {
      const conns = await Promise.all(
        Array.from({ length: 8 }, (_, i) => conn(n.p.node.url, `busy-${i}`)),
      );
      for (const [i, c] of conns.entries()) c.wire.send(openFrame(randomId(50_000 + i)));
      await until(() => conns.every((c) => c.errors().length >= 1), 5_000, "answered");
      const all = conns.flatMap((c) => c.errors());
      expect(n.count.maxRunning).toBeLessThanOrEqual(3);
      expect(all.filter((e) => e === "DIRECTORY_BUSY").length).toBe(5);
      expect(all.filter((e) => e === "CHANNEL_UNKNOWN").length).toBe(3);
      for (const c of conns) c.wire.close();
      await expectHonestClientServed(n.target, { timeoutMs: 10_000 });
    } finally {
      await n.p.stop();
      removeDir(n.p.dir);
    }
  });

  it("stays within its size, answers as the directory does, and asks it again only after the TTL (property)", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => randomId(90_000 + i));
    const requester = createSigner(keyOf("model")).address as Address;
    const step = fc.oneof(
      fc.record({ op: fc.constant("lookup" as const), id: fc.nat(11) }),
      fc.record({ op: fc.constant("open" as const), id: fc.nat(11) }),
      fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 300 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(step, { maxLength: 60 }),
        async (entries, ttl, steps) => {
          let now = 0;
          const mem = memoryDirectory();
          const count = counting(mem);
          const cache = cachedDirectory(
            count.directory,
            { negativeTtlMs: ttl, negativeEntries: entries, lookupsInFlight: 8 },
            () => now,
          );
          const openedAt = new Map<number, number>();
          const unknownAt = new Map<number, number>();
          for (const s of steps) {
            if (s.op === "wait") now += s.ms;
            else if (s.op === "open") {
              mem.add(ids[s.id]!, requester, providerAddress, {
                depositA: 1n,
                depositB: 0n,
                settleWindow: 1,
              });
              if (!openedAt.has(s.id)) openedAt.set(s.id, now);
            } else {
              const before = count.lookups;
              const q = {
                channelId: ids[s.id]!,
                requester,
                provider: providerAddress as Address,
                salt: 1n,
                openBlock: 1n,
              };
              const got = await cache.lookup(q);
              const truth = await mem.lookup(q);
              const asked = count.lookups > before;
              if (got.ok) expect(truth.ok).toBe(true);
              else if (truth.ok) {
                // A stale "unknown": only within the TTL of the answer it repeats.
                expect(got.code).toBe("CHANNEL_UNKNOWN");
                expect(asked).toBe(false);
                expect(now - unknownAt.get(s.id)!).toBeLessThan(ttl);
              } else expect(got.code).toBe(truth.code);
              if (asked && !got.ok) unknownAt.set(s.id, now);
            }
            expect(cache.negativeSize).toBeLessThanOrEqual(entries);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
