/**
 * A requester that crashes mid-session and restarts on its channel store continues the same
 * channel from the nonce it had reached: every proof it signed was durable before it was sent.
 * Without a store, a restarted requester cannot pay on the channel again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import type { SessionClosedEvent } from "../../relay/provider/index.ts";
import { connect } from "../../relay/requester/client.ts";
import { keyOf, removeDir, startProvider, type TestProvider, until } from "./helpers.ts";

let p: TestProvider;
const closed: SessionClosedEvent[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  p = await startProvider({
    pricing: { second: { unitPrice: 10n, creditLimit: 20n, graceMs: 300 } },
  });
  p.node.on("session-closed", (e) => closed.push(e));
});
afterAll(async () => {
  await p.stop();
  for (const d of [p.dir, ...dirs]) removeDir(d);
});

function startRequester(key: Uint8Array, storeDir: string, ref: object): ChildProcess {
  const script = new URL("./fixtures/paying-requester.ts", import.meta.url).pathname;
  const json = JSON.stringify(ref, (_k, v) => (typeof v === "bigint" ? String(v) : v));
  return spawn(
    process.execPath,
    [script, p.node.url, Buffer.from(key).toString("hex"), storeDir, json],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
}

describe("requester channel store", () => {
  it("continues a channel after the requester is killed mid-session", async () => {
    const key = keyOf("crashing-requester");
    const ref = p.channel(key, 1_000_000n);
    const storeDir = mkdtempSync(join(tmpdir(), "tollway-requester-"));
    dirs.push(storeDir);

    const child = startRequester(key, storeDir, ref);
    let acked = 0n;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      acked = BigInt((JSON.parse(line) as { nonce: string }).nonce);
    });
    await until(() => acked >= 5n, 10_000, "ACKs from the requester process");
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The provider tears the orphaned session down when its credit runs out.
    await until(() => closed.some((e) => e.channelId === ref.channelId), 10_000, "teardown");
    const held = p.node.channel(ref.channelId)!.received!.proof;
    expect(held.nonce).toBeGreaterThanOrEqual(acked);

    // Without its store, a restarted requester would start again at nonce 1: refused.
    const forgetful = await connect({ key, url: p.node.url });
    await expect(
      forgetful.openSession({
        channel: ref,
        mode: "second",
        unitPrice: 10n,
        tunnel: { kind: "proxy" },
      }),
    ).rejects.toMatchObject({ code: "NONCE_NOT_INCREASING" });
    await forgetful.close();

    // On its store it picks up where it was: the next proofs are accepted.
    const rejectedBefore = p.node.stats().proofsRejected;
    const store = await ChannelStore.open(storeDir);
    const client = await connect({ key, url: p.node.url, store });
    expect(client.channel(ref.channelId)).toBeUndefined();
    const session = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    expect(client.channel(ref.channelId)!.sent!.proof.nonce).toBeGreaterThan(held.nonce);
    await until(() => session.ackedNonce > held.nonce, 5_000, "ACKs after the restart");
    const now = p.node.channel(ref.channelId)!.received!.proof;
    expect(now.nonce).toBeGreaterThan(held.nonce);
    expect(now.transferred).toBeGreaterThan(held.transferred);
    expect(p.node.stats().proofsRejected).toBe(rejectedBefore);
    await session.close();
    await client.close();
    await store.close();
  });
});
