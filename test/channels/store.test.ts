/** The level store on real databases in temp dirs: round trips, group commit, schema, bad dirs. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import { isChannelError } from "../../channels/errors.ts";
import { type ChannelState, createChannel } from "../../channels/state/channel-state.ts";
import { transition } from "../../channels/state/transition.ts";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import { alice, channelIdOf, ctxA, ctxB, openPair, received, signed } from "./helpers.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tollway-store-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const expectCode = async (p: Promise<unknown>, code: string) =>
  expect(p).rejects.toSatisfy((e) => isChannelError(e) && e.code === code);

/** Bob's view with a received proof, a sent proof, a close and a pending settlement. */
function richState(n: number): ChannelState {
  const id = channelIdOf(n);
  let { b } = openPair(1000n, 500n, id);
  b = transition(
    b,
    received(signed(alice, { channelId: id, nonce: 3n, transferred: 77n }), alice.address),
    ctxB,
  ).state;
  b = transition(b, { type: "ActionPay", amount: 5n }, ctxB).state;
  b = transition(b, { type: "ActionProposeSettlement" }, ctxB).state;
  return b;
}

describe("ChannelStore", () => {
  it("round-trips every part of a channel state, across a reopen", async () => {
    const dir = tempDir();
    let store = await ChannelStore.open(dir);
    const s1 = richState(1);
    let s2 = openPair(10n, 0n, channelIdOf(2)).a;
    s2 = transition(
      s2,
      {
        type: "ChainChannelClosed",
        channelId: channelIdOf(2),
        closer: alice.address,
        finalizesAt: 99,
      },
      ctxA,
    ).state;
    s2 = transition(
      s2,
      { type: "ChainChannelSettled", channelId: channelIdOf(2), payoutA: 10n, payoutB: 0n },
      ctxA,
    ).state;
    await Promise.all([store.putChannel(s1), store.putChannel(s2)]);
    await store.close();
    store = await ChannelStore.open(dir);
    expect(await store.loadChannel(channelIdOf(1))).toEqual(s1);
    expect(await store.loadChannel(channelIdOf(2))).toEqual(s2);
    expect(await store.loadChannel(channelIdOf(3))).toBeUndefined();
    expect((await store.loadAll()).length).toBe(2);
    await store.close();
  });

  it("keeps checksummed (mixed-case) addresses readable: they are stored lowercase", async () => {
    const dir = tempDir();
    const store = await ChannelStore.open(dir);
    const s = createChannel({
      channelId: channelIdOf(5),
      domain: { chainId: 1n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
      participantA: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      participantB: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
      self: "A",
      settleTimeout: 60n,
    });
    await store.putChannel(s);
    expect(await store.loadChannel(channelIdOf(5))).toEqual(s);
    expect(s.params.domain.verifyingContract).toBe("0x5fbdb2315678afecb367f032d93f642f64180aa3");
    await store.close();
  });

  it("persist writes only what changed; old proofs are overwritten (O(1) keys per channel)", async () => {
    const dir = tempDir();
    const store = await ChannelStore.open(dir);
    const id = channelIdOf(1);
    let { b } = openPair(10_000n, 0n, id);
    await store.persist(undefined, b);
    for (let i = 1; i <= 500; i++) {
      const next = transition(
        b,
        received(
          signed(alice, { channelId: id, nonce: BigInt(i), transferred: BigInt(i) }),
          alice.address,
        ),
        ctxB,
      ).state;
      void store.persist(b, next);
      b = next;
    }
    await store.flush();
    const before = store.stats;
    await store.persist(b, b);
    expect(store.stats).toEqual(before);
    expect(before.writes).toBe(501);
    // 500 proof updates in one event-loop turn coalesce to a handful of batches and ops.
    expect(before.batches).toBeLessThanOrEqual(3);
    expect(before.ops).toBeLessThanOrEqual(4);
    await store.close();
    const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: "view" });
    const keys: string[] = [];
    for await (const k of db.keys()) keys.push(k);
    await db.close();
    expect(keys.sort()).toEqual([`c/${id.slice(2)}`, "m/magic", "m/version", `r/${id.slice(2)}`]);
    const again = await ChannelStore.open(dir);
    expect((await again.loadChannel(id))?.received?.proof.nonce).toBe(500n);
    await again.close();
  });

  it("group commit: a promise resolves only after its batch is synced, many channels per batch", async () => {
    const store = await ChannelStore.open(tempDir());
    const states = Array.from({ length: 200 }, (_, i) => openPair(100n, 0n, channelIdOf(i + 1)).b);
    await Promise.all(states.map((s) => store.persist(undefined, s)));
    const first = store.stats.batches;
    const writes = states.map((s, i) => {
      const next = transition(
        s,
        received(
          signed(alice, {
            channelId: s.params.channelId,
            nonce: 1n,
            transferred: BigInt(i % 50) + 1n,
          }),
          alice.address,
        ),
        ctxB,
      ).state;
      return store.persist(s, next);
    });
    await Promise.all(writes);
    expect(store.stats.batches - first).toBeLessThanOrEqual(2);
    await store.close();
  });

  it("reads channel records written before the dispute machine took the chain's proofs", async () => {
    const dir = tempDir();
    let store = await ChannelStore.open(dir);
    const id = channelIdOf(7);
    let a = openPair(10n, 0n, id).a;
    a = transition(
      a,
      { type: "ChainChannelClosed", channelId: id, closer: alice.address, finalizesAt: 99 },
      ctxA,
    ).state;
    await store.putChannel(a);
    await store.close();
    // The record as the earlier code wrote it: with closeRequested and the chain's proofs.
    const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: "view" });
    const key = `c/${id.slice(2)}`;
    const record = JSON.parse(Buffer.from((await db.get(key))!).toString("utf8"));
    record.closeRequested = true;
    record.close.proofA = null;
    record.close.proofB = { nonce: "4", transferred: "3" };
    await db.put(key, Buffer.from(JSON.stringify(record)));
    await db.close();
    store = await ChannelStore.open(dir);
    expect(await store.loadChannel(id)).toEqual(a);
    await store.close();
  });

  it("refuses a foreign level database", async () => {
    const dir = tempDir();
    const db = new ClassicLevel(dir);
    await db.put("hello", "world");
    await db.close();
    await expectCode(ChannelStore.open(dir), "STORE_FOREIGN");
  });

  it("refuses a directory of other files, and a file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "notes.txt"), "mine");
    await expectCode(ChannelStore.open(dir), "STORE_FOREIGN");
    expect(readdirSync(dir)).toEqual(["notes.txt"]);
    const file = join(tempDir(), "file");
    writeFileSync(file, "x");
    await expectCode(ChannelStore.open(file), "STORE_FOREIGN");
  });

  it("reports a corrupt database (damaged CURRENT / manifest) instead of resetting it", async () => {
    const dir = tempDir();
    const store = await ChannelStore.open(dir);
    await store.putChannel(richState(1));
    await store.close();
    writeFileSync(join(dir, "CURRENT"), "MANIFEST-999999\n");
    await expectCode(ChannelStore.open(dir), "STORE_CORRUPT");
    const dir2 = tempDir();
    const s2 = await ChannelStore.open(dir2);
    await s2.close();
    for (const f of readdirSync(dir2).filter((f) => f.startsWith("MANIFEST"))) {
      writeFileSync(join(dir2, f), Buffer.alloc(100, 0xab));
    }
    await expectCode(ChannelStore.open(dir2), "STORE_CORRUPT");
  });

  it("reports a damaged record with its key when loading", async () => {
    const dir = tempDir();
    const store = await ChannelStore.open(dir);
    await store.putChannel(richState(1));
    await store.close();
    const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: "view" });
    await db.put(`r/${channelIdOf(1).slice(2)}`, Uint8Array.of(1, 2, 3));
    await db.close();
    const again = await ChannelStore.open(dir);
    await expect(again.loadAll()).rejects.toSatisfy(
      (e) => isChannelError(e, "STORE_CORRUPT") && String(e.details.key).startsWith("r/"),
    );
    await again.close();
  });

  it("refuses a store of a newer schema, and one it cannot migrate", async () => {
    const dir = tempDir();
    await (await ChannelStore.open(dir, { schemaVersion: 3 })).close();
    await expectCode(ChannelStore.open(dir), "STORE_VERSION_UNSUPPORTED");
    const dir2 = tempDir();
    await (await ChannelStore.open(dir2)).close();
    await expectCode(ChannelStore.open(dir2, { schemaVersion: 2 }), "STORE_VERSION_UNSUPPORTED");
  });

  it("runs migrations step by step and records the new version", async () => {
    const dir = tempDir();
    const v1 = await ChannelStore.open(dir);
    await v1.putChannel(richState(1));
    await v1.close();
    const ran: number[] = [];
    const migrations = [
      { from: 1, up: async () => void ran.push(1) },
      {
        from: 2,
        up: async (db: ClassicLevel<string, Uint8Array>) => {
          ran.push(2);
          await db.put("x/migrated", Uint8Array.of(1));
        },
      },
    ];
    const v3 = await ChannelStore.open(dir, { schemaVersion: 3, migrations });
    expect(ran).toEqual([1, 2]);
    expect(await v3.loadChannel(channelIdOf(1))).toEqual(richState(1));
    await v3.close();
    const again = await ChannelStore.open(dir, { schemaVersion: 3, migrations });
    expect(ran).toEqual([1, 2]);
    await again.close();
  });

  it("reports STORE_LOCKED while another handle holds the database", async () => {
    const dir = tempDir();
    const a = await ChannelStore.open(dir);
    await expectCode(ChannelStore.open(dir), "STORE_LOCKED");
    await a.close();
  });

  it("creates a missing directory, but not when told not to", async () => {
    const parent = tempDir();
    await expectCode(
      ChannelStore.open(join(parent, "nope"), { createIfMissing: false }),
      "STORE_OPEN_FAILED",
    );
    mkdirSync(join(parent, "empty"));
    const s = await ChannelStore.open(join(parent, "empty"));
    await s.close();
  });
});
