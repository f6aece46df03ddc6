/**
 * An honest provider gets paid even when its requester vanishes or cheats: the provider runs as a
 * real process with its watcher on; the requester is the SDK in this process, on the same
 * embedded chain. The chain mines only on transactions, so after each close the test moves the
 * chain's clock past the window and mines one block, which is what the watcher reads "now" from.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerFor } from "../../../channels/chain/client.ts";
import type { SettlementBackend } from "../../../channels/settlement/backend.ts";
import { ChannelStore } from "../../../channels/store/index.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  saveDeployment,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { accountLayout } from "../../../engine/node/layout.ts";
import { connectPaymentChannels } from "../../../engine/node/payment-channels.ts";
import { createRequester } from "../../../engine/node/requester.ts";
import { eventually, type RunningRole, runOnce, startRole } from "./cli-processes.ts";

let chain: EmbeddedChain;
let dir: string;
let rpc: JsonRpcProvider;
let requesterChain: SettlementBackend;
let providerChain: SettlementBackend;
let market: RunningRole;
const providerAddress = devWallet(1).address as Address;
const WINDOW = 10;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-honest-"));
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  rpc = providerFor(chain.url!) as JsonRpcProvider;
  const d = await deployContracts(devWallet(0).connect(rpc), {
    holders: [1, 2].map((i) => ({ address: devWallet(i).address as Address, amount: 10n ** 21n })),
  });
  await saveDeployment(dir, d);
  const settlementOf = async (i: number) =>
    (await connectPaymentChannels({ signer: devWallet(i).connect(rpc), deployment: d })).settlement;
  requesterChain = await settlementOf(2);
  providerChain = await settlementOf(1);
  market = await startRole([...base(), "market", "--port", "0"]);
});
afterAll(async () => {
  await market?.stop();
  rpc?.destroy();
  await chain?.stop();
  await rm(dir, { recursive: true, force: true });
});

const base = () => ["--rpc", chain.url!, "--data-dir", dir, "--json"];

function startProvider(extra: string[] = []) {
  return startRole([
    ...base(),
    "--dev-account",
    "1",
    "provider",
    "--market",
    String(market.first.url),
    "--port",
    "0",
    "--watch-interval",
    "200",
    ...extra,
  ]);
}

/** Opens a channel from the requester, pays the provider for about `seconds`, then vanishes. */
async function payAndVanish(relay: string, seconds: number) {
  const requester = createRequester({ wallet: devWallet(2), settlement: requesterChain });
  const channel = await requester.openChannel(providerAddress, 10n ** 18n, WINDOW);
  const client = await requester.connect(relay);
  const session = await client.openSession({
    channel,
    mode: "second",
    unitPrice: 10n ** 15n,
    tunnel: { kind: "proxy" },
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await session.close();
  const sent = client.channel(channel.channelId)!.sent!.proof;
  await eventually("the last ACK", 10_000, () =>
    session.ackedNonce >= sent.nonce ? true : undefined,
  );
  await client.close();
  return { channel, paid: sent.transferred };
}

/** Moves the chain's clock past the settle window and mines a block. */
async function passWindow() {
  await rpc.send("evm_increaseTime", [WINDOW + 5]);
  await rpc.send("evm_mine", []);
}

describe("an honest provider gets paid", () => {
  it("a partner closes with a stale proof while only the provider runs: the newest proof wins, the provider settles by itself", async () => {
    const provider = await startProvider();
    try {
      expect(provider.first.watching).toBe(true);
      const { channel, paid } = await payAndVanish(String(provider.first.relay), 2);
      expect(paid).toBeGreaterThan(0n);
      const before = await providerChain.balanceOf(providerAddress);
      // The requester closes with no proof of the provider's: on chain its own payments count 0.
      await requesterChain.send({
        type: "ChainSendClose",
        channelId: channel.channelId,
        proof: null,
      });
      await eventually("the provider's update", 20_000, () =>
        provider.out().includes("answered the close") ? true : undefined,
      );
      await passWindow();
      const after = await eventually("the provider's settle", 20_000, async () => {
        const b = await providerChain.balanceOf(providerAddress);
        return b > before ? b : undefined;
      });
      expect(after - before).toBe(paid);
      expect((await requesterChain.channel(channel.channelId)).status).toBe("none");
    } finally {
      expect(await provider.stop()).toBe(0);
    }
  });

  it("`tollway channel close` reaches the running provider through its control socket and recovers what it earned", async () => {
    const provider = await startProvider();
    let id = "";
    let paidTotal = 0n;
    try {
      const { channel, paid } = await payAndVanish(String(provider.first.relay), 2);
      id = channel.channelId;
      paidTotal = paid;
      expect(provider.first.control).toBe(accountLayout(dir, providerAddress).socket);
      const before = await providerChain.balanceOf(providerAddress);
      const closed = await runOnce([...base(), "--dev-account", "1", "channel", "close", id]);
      expect(closed.code, closed.err).toBe(0);
      const out = JSON.parse(closed.out) as { via: string; withProof: { transferred: string } };
      expect(out.via).toBe("node");
      expect(BigInt(out.withProof.transferred)).toBe(paid);
      await passWindow();
      const after = await eventually("the provider's settle", 20_000, async () => {
        const b = await providerChain.balanceOf(providerAddress);
        return b > before ? b : undefined;
      });
      expect(after - before).toBe(paid);
    } finally {
      expect(await provider.stop()).toBe(0);
    }
    expect(paidTotal).toBeGreaterThan(0n);
  });

  it("with the provider stopped, `tollway channel close` finds its store in the one layout and closes with the newest proof", async () => {
    const provider = await startProvider();
    let channelId = "";
    let paid = 0n;
    try {
      const r = await payAndVanish(String(provider.first.relay), 2);
      channelId = r.channel.channelId;
      paid = r.paid;
    } finally {
      expect(await provider.stop()).toBe(0);
    }
    const closed = await runOnce([...base(), "--dev-account", "1", "channel", "close", channelId]);
    expect(closed.code, closed.err).toBe(0);
    const out = JSON.parse(closed.out) as { via: string; withProof: { transferred: string } };
    expect(out.via).toBe("cli");
    expect(BigInt(out.withProof.transferred)).toBe(paid);
    await passWindow();
    const before = await providerChain.balanceOf(providerAddress);
    const settled = await runOnce([
      ...base(),
      "--dev-account",
      "1",
      "channel",
      "settle",
      channelId,
    ]);
    expect(settled.code, settled.err).toBe(0);
    expect((await providerChain.balanceOf(providerAddress)) - before).toBe(paid);
  });

  it("`tollway channel dispute` runs its round through the running node; a store held by a process with no socket is NODE_RUNNING", async () => {
    const provider = await startProvider();
    try {
      const r = await runOnce([...base(), "--dev-account", "1", "channel", "dispute", "--once"]);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ via: "node", watching: true });
    } finally {
      expect(await provider.stop()).toBe(0);
    }
    const held = await ChannelStore.open(accountLayout(dir, providerAddress).channels);
    try {
      const r = await runOnce([
        ...base(),
        "--dev-account",
        "1",
        "channel",
        "close",
        `0x${"ab".repeat(32)}`,
      ]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.err).error.code).toBe("NODE_RUNNING");
    } finally {
      await held.close();
    }
  });
});
