import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Provider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainClient, connectChain, providerFor } from "../../../channels/chain/client.ts";
import { paymentChannelsSettlement } from "../../../channels/settlement/payment-channels/backend.ts";
import type { SignedBalanceProof } from "../../../channels/signed.ts";
import type { Address, ChannelId } from "../../../channels/types.ts";
import { startWatcher } from "../../../channels/watcher/watcher.ts";
import { deployFixture, type Fixture } from "../../helpers/chain.ts";

const D = 10n ** 18n;
let f: Fixture;
let provider: Provider;
let alice: ChainClient;
let bob: ChainClient;
let dir: string;

beforeAll(async () => {
  f = await deployFixture();
  provider = providerFor(f.connection.provider);
  const channels = (await f.channels.getAddress()) as Address;
  alice = await connectChain({ signer: f.alice.connect(provider), channels });
  bob = await connectChain({ signer: f.bob.connect(provider), channels });
  dir = await mkdtemp(join(tmpdir(), "tollway-watcher-"));
});
afterAll(async () => {
  await f.connection.close();
  await rm(dir, { recursive: true, force: true });
});

/** Bob's proof book: the latest proof Alice sent him, per channel. */
const received = new Map<ChannelId, SignedBalanceProof>();
const pay = (id: ChannelId, nonce: bigint, transferred: bigint) =>
  received.set(id, {
    proof: { channelId: id, nonce, transferred },
    signature: f.signProof(f.alice, id, nonce, transferred),
  });

describe("dispute watcher", () => {
  it("wins the dispute when the partner closes with a stale state, then settles", async () => {
    const watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: join(dir, "a"),
      partnerProof: (id) => received.get(id),
    });
    const { channelId, participants } = await alice.open({
      partner: f.bob.address as Address,
      amount: 10n * D,
      settleWindow: 120,
    });
    pay(channelId, 1n, D);
    pay(channelId, 2n, 3n * D);
    // Alice closes and leaves her own side at zero: she claims she never paid.
    await alice.close(participants);
    const updated = new Promise((resolve) => watcher.once("updated", resolve));
    await watcher.poll();
    await updated;
    await watcher.poll();
    expect(watcher.state.channels.get(channelId)?.closing).toMatchObject({
      nonceA: 2n,
      sentA: 3n * D,
    });
    const b0 = await bob.tokenBalance();
    await f.advance(121);
    await watcher.poll(); // sends settle
    await watcher.poll(); // sees it
    expect(await bob.tokenBalance()).toBe(b0 + 3n * D);
    expect(watcher.state.channels.has(channelId)).toBe(false);
    await watcher.stop();
  });

  it("catches up from its saved block after being down during the close", async () => {
    const store = join(dir, "b");
    let watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: store,
      partnerProof: (id) => received.get(id),
    });
    const { channelId, participants } = await alice.open({
      partner: f.bob.address as Address,
      amount: 5n * D,
      settleWindow: 300,
    });
    await watcher.poll();
    const cursor = watcher.state.cursor;
    expect(watcher.state.channels.get(channelId)?.status).toBe("open");
    await watcher.stop();

    pay(channelId, 4n, 2n * D);
    await alice.close(participants);
    await f.advance(100);
    for (let i = 0; i < 5; i++) await f.provider.send("evm_mine", []);

    watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: store,
      partnerProof: (id) => received.get(id),
    });
    expect(watcher.state.cursor).toBe(cursor);
    await watcher.poll();
    await watcher.poll();
    expect(watcher.state.channels.get(channelId)?.closing).toMatchObject({
      nonceA: 4n,
      sentA: 2n * D,
    });
    await f.advance(300);
    const b0 = await bob.tokenBalance();
    await watcher.poll();
    expect(await bob.tokenBalance()).toBe(b0 + 2n * D);
    await watcher.stop();
  });

  it("rides out an RPC outage without losing its place", async () => {
    let down = true;
    const eip1193 = f.connection.provider;
    const flaky = {
      request: async (args: { method: string; params?: unknown[] }) => {
        if (down && args.method === "eth_getLogs")
          throw new Error("connect ECONNREFUSED 127.0.0.1:8545");
        return eip1193.request(args);
      },
    };
    const flakyBob = await connectChain({
      signer: f.bob.connect(providerFor(flaky)),
      channels: bob.channelsAddress,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const watcher = await startWatcher({
      settlement: paymentChannelsSettlement(flakyBob),
      dir: join(dir, "c"),
      partnerProof: (id) => received.get(id),
    });
    const errors: unknown[] = [];
    watcher.on("error", (e) => errors.push(e));
    const before = watcher.state.cursor;
    const { channelId } = await alice.open({
      partner: f.bob.address as Address,
      amount: D,
      settleWindow: 60,
    });
    await watcher.poll();
    expect(errors).toHaveLength(1);
    expect(watcher.state.cursor).toBe(before);
    down = false;
    await watcher.poll();
    expect(watcher.state.channels.get(channelId)?.status).toBe("open");
    await watcher.stop();
  });

  it("closes through the machine with the partner's latest proof, then settles when the window ends", async () => {
    const watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: join(dir, "close"),
      partnerProof: (id) => received.get(id),
    });
    const { channelId } = await alice.open({
      partner: f.bob.address as Address,
      amount: 4n * D,
      settleWindow: 60,
    });
    pay(channelId, 5n, D);
    await watcher.poll();
    const closed = await watcher.close(channelId);
    expect(await bob.readChannel(channelId)).toEqual({
      status: "closing",
      finalizesAt: closed.finalizesAt,
    });
    await watcher.poll();
    expect(watcher.state.channels.get(channelId)?.closing).toMatchObject({ nonceA: 5n, sentA: D });
    const b0 = await bob.tokenBalance();
    await f.advance(61);
    await watcher.poll(); // sends settle
    expect(await bob.tokenBalance()).toBe(b0 + D);
    await watcher.stop();
  });

  it("refuses a store that belongs to another account", async () => {
    const w = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: join(dir, "d"),
      partnerProof: () => undefined,
    });
    await w.poll();
    await w.stop();
    await expect(
      startWatcher({
        settlement: paymentChannelsSettlement(alice),
        dir: join(dir, "d"),
        partnerProof: () => undefined,
      }),
    ).rejects.toMatchObject({
      code: "STORE_FOREIGN",
      details: { owner: f.bob.address.toLowerCase() },
    });
  });
});
