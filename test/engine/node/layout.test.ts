/** One store layout per account, and the move of stores of the older layouts into it. */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createChannel } from "../../../channels/state/channel-state.ts";
import { ChannelStore } from "../../../channels/store/index.ts";
import type { Address, ChannelId } from "../../../channels/types.ts";
import {
  accountLayout,
  legacyStoreDirs,
  migrateLegacyStores,
} from "../../../engine/node/layout.ts";

const ME = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as Address;
const PARTNER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc" as Address;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-layout-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as ChannelId;
const channel = (n: number) =>
  createChannel({
    channelId: id(n),
    domain: { chainId: 31337n, verifyingContract: PARTNER },
    participantA: PARTNER,
    participantB: ME,
    self: "B",
    settleTimeout: 600n,
  });

async function storeWith(path: string, ids: number[]) {
  await mkdir(join(path, ".."), { recursive: true });
  const s = await ChannelStore.open(path);
  for (const n of ids) await s.putChannel(channel(n));
  await s.close();
}

async function idsIn(path: string) {
  const s = await ChannelStore.open(path, { createIfMissing: false });
  try {
    return (await s.loadAll()).map((c) => c.params.channelId).sort();
  } finally {
    await s.close();
  }
}

describe("store layout", () => {
  it("puts every file of an account under <dataDir>/<address>, lowercase", () => {
    const l = accountLayout("/data", ME);
    expect(l).toEqual({
      dir: `/data/${ME.toLowerCase()}`,
      channels: `/data/${ME.toLowerCase()}/channels`,
      watcher: `/data/${ME.toLowerCase()}/watcher`,
      socket: `/data/${ME.toLowerCase()}/node.sock`,
    });
  });

  it("moves the provider's old store into place, then merges the requester's old one, keeping both aside", async () => {
    const [providerOld, requesterOld] = legacyStoreDirs(dir, ME) as [string, string];
    await storeWith(providerOld, [1, 2]);
    await storeWith(requesterOld, [2, 3]);
    const report = await migrateLegacyStores(dir, ME);
    expect(report.migrated).toEqual([providerOld, requesterOld]);
    expect(report.channels).toBe(3);
    const l = accountLayout(dir, ME);
    expect(await idsIn(l.channels)).toEqual([id(1), id(2), id(3)]);
    expect(existsSync(providerOld)).toBe(false);
    expect(existsSync(`${requesterOld}.migrated`)).toBe(true);
    expect((await stat(l.dir)).mode & 0o777).toBe(0o700);
    // Running again (as after a crash) changes nothing.
    expect(await migrateLegacyStores(dir, ME)).toEqual({ migrated: [], channels: 0 });
    expect(await idsIn(l.channels)).toEqual([id(1), id(2), id(3)]);
  });

  it("never overwrites what the new store already holds with an older copy", async () => {
    const l = accountLayout(dir, ME);
    await storeWith(l.channels, [7]);
    const newer = await ChannelStore.open(l.channels);
    const open = { ...channel(7), status: "open" as const, depositA: 5n };
    await newer.putChannel(open);
    await newer.close();
    const [providerOld] = legacyStoreDirs(dir, ME) as [string];
    await storeWith(providerOld, [7, 8]);
    expect((await migrateLegacyStores(dir, ME)).channels).toBe(1);
    const s = await ChannelStore.open(l.channels);
    expect((await s.loadChannel(id(7)))?.depositA).toBe(5n);
    expect(await s.loadChannel(id(8))).toBeDefined();
    await s.close();
  });

  it("refuses to move a store another process holds (a node of an older release)", async () => {
    const [providerOld] = legacyStoreDirs(dir, ME) as [string];
    await storeWith(providerOld, [1]);
    const held = await ChannelStore.open(providerOld);
    try {
      await expect(migrateLegacyStores(dir, ME)).rejects.toMatchObject({ code: "STORE_LOCKED" });
      expect(existsSync(providerOld)).toBe(true);
    } finally {
      await held.close();
    }
  });
});
