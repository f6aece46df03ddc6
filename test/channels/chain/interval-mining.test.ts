import type { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectChain, isChainError, providerFor } from "../../../channels/chain/index.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";

const D = 10n ** 18n;
let chain: EmbeddedChain;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  // A block every second and none on a transaction alone, as on a public chain.
  chain = await serveEmbeddedChain("127.0.0.1", 0, { blockTimeSeconds: 1 });
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await chain.stop();
});

describe("chain client on an interval-mined chain", () => {
  it("deploys, opens, tops up, closes and settles, each on a provider destroyed as soon as it returns, as the CLI does", async () => {
    const alice = devWallet(1);
    const bob = devWallet(2);
    let channels: Address | undefined;
    /** One command: a fresh provider and client, the operation, then destroy at once. */
    const command = async <T>(
      who: typeof alice,
      op: (c: Awaited<ReturnType<typeof connectChain>>, p: JsonRpcProvider) => Promise<T>,
    ): Promise<T> => {
      const provider = providerFor(chain.url!) as JsonRpcProvider;
      try {
        if (!channels) {
          const d = await deployContracts(devWallet(0).connect(provider), {
            holders: [alice, bob].map((w) => ({ address: w.address as Address, amount: 100n * D })),
          });
          channels = d.channels;
        }
        const client = await connectChain({ signer: who.connect(provider), channels });
        return await op(client, provider);
      } finally {
        provider.destroy();
      }
    };
    const head0 = await command(alice, (c) => c.blockNumber());
    const opened = await command(alice, (c) =>
      c.open({ partner: bob.address as Address, amount: 3n * D, settleWindow: 10 }),
    );
    // Mined by the timer, not at once: the including block came after the one we saw.
    expect(opened.blockNumber).toBeGreaterThan(head0);
    await command(bob, (c) => c.topUp(opened.channelId, true, D));
    expect(await command(alice, (c) => c.readChannel(opened.channelId))).toMatchObject({
      status: "open",
      depositA: 3n * D,
      depositB: D,
    });
    const closed = await command(bob, (c) => c.close(opened.participants));
    const settled = await command(bob, async (c, p) => {
      await p.send("evm_increaseTime", [60]);
      return c.settle(opened.channelId, {
        a: alice.address as Address,
        b: bob.address as Address,
        depositA: 3n * D,
        depositB: D,
        nonceA: 0n,
        sentA: 0n,
        nonceB: 0n,
        sentB: 0n,
      });
    });
    expect(settled.blockNumber).toBeGreaterThan(closed.blockNumber);
    expect(await command(alice, (c) => c.readChannel(opened.channelId))).toEqual({
      status: "none",
    });
    // ethers' own wait left block listeners whose requests failed, unhandled, when the provider
    // was destroyed: the CLI crashed with "provider destroyed; cancelled request".
    await new Promise((r) => setTimeout(r, 2_500));
    expect(unhandled).toEqual([]);
  });

  it("gives up on a transaction that is not mined in time with TX_NOT_MINED", async () => {
    const provider = providerFor(chain.url!) as JsonRpcProvider;
    const alice = devWallet(1).connect(provider);
    const d = await deployContracts(devWallet(0).connect(provider), {
      holders: [{ address: alice.address as Address, amount: D }],
    });
    // Mining stops: a transaction waits in the mempool.
    await provider.send("evm_setIntervalMining", [0]);
    try {
      const a = await connectChain({
        signer: alice,
        channels: d.channels,
        receiptPollIntervalMs: 100,
        inclusionTimeoutMs: 1_000,
      });
      const err = await a.approve(1n).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isChainError(err, "TX_NOT_MINED")).toBe(true);
      expect((err as { details: { hash: string } }).details.hash).toMatch(/^0x[0-9a-f]{64}$/);
    } finally {
      await provider.send("evm_setIntervalMining", [1_000]);
      provider.destroy();
    }
  });
});
