/**
 * OPEN for a channel that does not exist must not cost a chain lookup each time: the node keeps
 * "unknown" answers briefly, shares lookups in flight, caps how many run at once, and rate-limits
 * OPENs per connection. Checked against a live node whose settlement backend counts its lookups
 * (the in-memory chain behind a counting shell), and as a model against a fake clock.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256 } from "../../channels/crypto/keccak.ts";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { ChannelRef } from "../../channels/settlement/channel-ref.ts";
import type { MemoryChain } from "../../channels/settlement/memory/memory-chain.ts";
import type { Address, ChannelId } from "../../channels/types.ts";
import { type ChannelResolver, cachedDirectory } from "../../relay/provider/directory-cache.ts";
import type { ConnectionLimits } from "../../relay/provider/index.ts";
import type { SessionChannel } from "../../relay/requester/client.ts";
import { openWireConnection } from "../../relay/requester/wire-connection.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import {
  domain,
  keyOf,
  memoryChain,
  openOn,
  providerAddress,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";
import { expectHonestClientServed, type HonestTarget } from "./honest-client.ts";

/** The chain's resolver behind a shell that counts its lookups and the most at once, optionally slow. */
function counting(chain: MemoryChain, delayMs = 0) {
  const c = {
    lookups: 0,
    running: 0,
    maxRunning: 0,
    resolver: {
      async resolve(ref) {
        c.lookups++;
        c.running++;
        c.maxRunning = Math.max(c.maxRunning, c.running);
        try {
          if (delayMs > 0) await sleep(delayMs);
          return chain.resolve(ref);
        } finally {
          c.running--;
        }
      },
    } as ChannelResolver,
  };
  return c;
}

/** A node on a counting in-memory chain, and a way to open channels on it. */
async function nodeOn(limits: Partial<ConnectionLimits>, delayMs = 0) {
  const chain = memoryChain();
  const count = counting(chain, delayMs);
  const p = await startProvider(
    { settlement: { domain, resolve: (ref) => count.resolver.resolve(ref) }, limits },
    undefined,
    chain,
  );
  const register = (key: Uint8Array, depositA: bigint): SessionChannel =>
    openOn(chain, key, depositA);
  const target: HonestTarget = { url: p.node.url, channel: register };
  return { p, count, register, target };
}

/**
 * The reference the in-memory chain gives the `seq`-th channel it opens (opener ‖ partner ‖ a
 * 64-bit sequence number), and the id it derives from it: what a channel not yet opened will be.
 */
function futureChannel(opener: Address, partner: Address, seq: number) {
  const ref =
    `0x${opener.slice(2)}${partner.slice(2)}${seq.toString(16).padStart(16, "0")}`.toLowerCase() as ChannelRef;
  const channelId =
    `0x${Buffer.from(keccak256(Buffer.from(ref.slice(2), "hex"))).toString("hex")}` as ChannelId;
  return { ref, channelId };
}

const randomId = (i: number): ChannelId =>
  `0x${i.toString(16).padStart(8, "0")}${"ee".repeat(28)}` as ChannelId;

/** A reference of the in-memory chain's shape that names no channel. */
const randomRef = (i: number): ChannelRef =>
  `0x${i.toString(16).padStart(8, "0")}${"ee".repeat(44)}` as ChannelRef;

function openFrame(channelId: ChannelId, ref: ChannelRef): Frame {
  return {
    type: "OPEN",
    channelId,
    ref,
    dealId: "d",
    mode: "packet",
    unitPrice: 5n,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume: null,
  };
}

/** An OPEN of an unknown channel `i`. */
const unknownOpen = (i: number) => openFrame(randomId(i), randomRef(i));

async function conn(url: string, label: string) {
  const signer = createSigner(keyOf(label));
  const wire = await openWireConnection({ url, signer, domain });
  const frames: Frame[] = [];
  wire.onFrame = (f) => frames.push(f);
  const errors = () => frames.flatMap((f) => (f.type === "ERROR" ? [f.code] : []));
  return { wire, frames, errors, signer };
}

describe("OPEN floods against a counting backend", () => {
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
    for (const c of conns) for (let i = 0; i < 40; i++) c.wire.send(unknownOpen(1));
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
    for (let i = 0; i < 500; i++) c.wire.send(unknownOpen(1_000 + i));
    await until(() => c.errors().length >= 500, 10_000, "every OPEN answered");
    const seconds = (performance.now() - started) / 1000;
    const lookups = n.count.lookups - before;
    // The bucket's burst, and its rate over the time the flood took.
    expect(lookups).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds) + 1);
    expect(c.errors().filter((e) => e === "CHANNEL_UNKNOWN").length).toBe(lookups);
    expect(c.errors().filter((e) => e === "RATE_LIMITED").length).toBe(500 - lookups);
    // A resume is never held back by the OPEN budget: it costs no lookup.
    c.wire.send({ ...unknownOpen(1), resume: "no-such-session" } as Frame);
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
      // The node's chain has opened nothing yet: this is the first channel it will open.
      const { ref, channelId } = futureChannel(requester, providerAddress, 1);
      c.wire.send(openFrame(channelId, ref));
      await until(() => c.errors().length >= 1, 3_000, "refused");
      expect(c.errors()).toEqual(["CHANNEL_UNKNOWN"]);
      const lookups = n.count.lookups;
      // On chain now; the node still remembers it as unknown, for a moment.
      const opened = n.register(key, 1_000n);
      expect(opened).toMatchObject({ ref, channelId });
      c.wire.send(openFrame(channelId, ref));
      await until(() => c.errors().length >= 2, 3_000, "refused again");
      expect(c.errors()).toEqual(["CHANNEL_UNKNOWN", "CHANNEL_UNKNOWN"]);
      expect(n.count.lookups).toBe(lookups);
      await sleep(500);
      c.wire.send(openFrame(channelId, ref));
      const proof = { channelId, nonce: 1n, transferred: 5n };
      c.wire.send({ type: "PAY", ...proof, signature: c.signer.signBalanceProof(domain, proof) });
      await until(() => c.frames.some((f) => f.type === "READY"), 5_000, "READY");
      expect(n.count.lookups).toBe(lookups + 1);
      c.wire.close();
    } finally {
      await n.p.stop();
      removeDir(n.p.dir);
    }
  });

  it("a slow lookup is shared by everyone who asks for the same reference, whatever it says", async () => {
    const chain = memoryChain();
    const count = counting(chain, 200);
    const cache = cachedDirectory(
      count.resolver,
      { negativeTtlMs: 1_000, negativeEntries: 10, lookupsInFlight: 8 },
      () => performance.now(),
    );
    const unknown = randomRef(70_000);
    const answers = await Promise.all([0, 1, 2, 3, 4, 5].map(() => cache.resolve(unknown)));
    expect(answers.map((a) => (a.ok ? "ok" : a.code))).toEqual(Array(6).fill("CHANNEL_UNKNOWN"));
    expect(count.lookups).toBe(1);
    // An open channel: one lookup for every asker; whose channel it is, the node checks after.
    const { ref, channelId } = openOn(chain, keyOf("owner"), 5n);
    const opened = await Promise.all([cache.resolve(ref), cache.resolve(ref), cache.resolve(ref)]);
    for (const a of opened) expect(a.ok && a.value.channelId).toBe(channelId);
    expect(count.lookups).toBe(2);
    // Positive answers are never kept: the next asker gets fresh deposits.
    await cache.resolve(ref);
    expect(count.lookups).toBe(3);
    expect(cache.inFlight).toBe(0);
  });

  it("answers a reference of another backend or garbage with CHANNEL_REF_INVALID, and caches nothing of it", async () => {
    const chain = memoryChain();
    const count = counting(chain);
    const cache = cachedDirectory(
      count.resolver,
      { negativeTtlMs: 60_000, negativeEntries: 10, lookupsInFlight: 8 },
      () => performance.now(),
    );
    // A PaymentChannels reference (80 bytes), and a byte.
    for (const ref of [`0x${"12".repeat(80)}`, "0x00"] as ChannelRef[]) {
      const a = await cache.resolve(ref);
      expect(a.ok ? "ok" : a.code).toBe("CHANNEL_REF_INVALID");
    }
    expect(cache.negativeSize).toBe(0);
  });

  it("runs a bounded number of lookups at once; the others get DIRECTORY_BUSY", async () => {
    const n = await nodeOn({ lookupsInFlight: 3, openRate: { perSecond: 100, burst: 100 } }, 300);
    try {
      const conns = await Promise.all(
        Array.from({ length: 8 }, (_, i) => conn(n.p.node.url, `busy-${i}`)),
      );
      for (const [i, c] of conns.entries()) c.wire.send(unknownOpen(50_000 + i));
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

  it("stays within its size, answers as the chain does, and asks it again only after the TTL (property)", async () => {
    const openers = Array.from({ length: 12 }, (_, i) => keyOf(`model-${i}`));
    // Channels open in slot order, so that slot k is always the chain's (k+1)-th: its reference
    // is known before it exists, and can be looked up (and remembered as unknown) before.
    const slots = openers.map((key, k) =>
      futureChannel(createSigner(key).address, providerAddress, k + 1),
    );
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
          const chain = memoryChain();
          const count = counting(chain);
          const cache = cachedDirectory(
            count.resolver,
            { negativeTtlMs: ttl, negativeEntries: entries, lookupsInFlight: 8 },
            () => now,
          );
          let opened = 0;
          const unknownAt = new Map<number, number>();
          for (const s of steps) {
            if (s.op === "wait") now += s.ms;
            else if (s.op === "open") {
              for (; opened <= s.id; opened++) {
                expect(openOn(chain, openers[opened]!, 1n).ref).toBe(slots[opened]!.ref);
              }
            } else {
              const before = count.lookups;
              const ref = slots[s.id]!.ref;
              const got = await cache.resolve(ref);
              const truth = chain.resolve(ref);
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
