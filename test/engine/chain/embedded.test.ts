import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonRpcProvider } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectChain, providerFor } from "../../../channels/chain/client.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  loadDeployment,
  MAX_BLOCK_TIME_SECONDS,
  saveDeployment,
  serveEmbeddedChain,
  startEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { miningConfig } from "../../../engine/chain/mining.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-chain-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("embedded chain", () => {
  it("starts in process, deploys, and a chain client opens a channel on it", async () => {
    const chain = await startEmbeddedChain();
    const provider = providerFor(chain.provider!);
    const deployer = devWallet(0).connect(provider);
    const alice = devWallet(1).connect(provider);
    const d = await deployContracts(deployer, {
      holders: [{ address: alice.address as Address, amount: 10n ** 21n }],
    });
    expect(d.chainId).toBe("31337");
    const client = await connectChain({
      signer: alice,
      channels: d.channels,
      expectedChainId: 31337n,
    });
    const opened = await client.open({
      partner: devWallet(2).address as Address,
      amount: 10n ** 18n,
      settleWindow: 60,
    });
    expect(await client.readChannel(opened.channelId)).toMatchObject({
      status: "open",
      depositA: 10n ** 18n,
    });
    await chain.stop();
  });

  it("serves JSON-RPC on loopback, and saved addresses are reused only while their code exists", async () => {
    const chain = await serveEmbeddedChain("127.0.0.1", 0);
    expect(chain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const provider = providerFor(chain.url!) as JsonRpcProvider;
    const d = await deployContracts(devWallet(0).connect(provider), {
      holders: [{ address: devWallet(0).address as Address, amount: 1n }],
    });
    await saveDeployment(dir, d);
    expect(await loadDeployment(dir, provider)).toEqual(d);
    provider.destroy();
    await chain.stop();
    // A new embedded chain has no contracts: the saved file is not trusted.
    const fresh = await startEmbeddedChain();
    expect(await loadDeployment(dir, providerFor(fresh.provider!))).toBeUndefined();
    await fresh.stop();
  });

  it("mines on a timer with blockTimeSeconds, and a transaction waits for the next block", async () => {
    const chain = await startEmbeddedChain({ blockTimeSeconds: 1 });
    expect(chain.blockTimeSeconds).toBe(1);
    const provider = providerFor(chain.provider!) as JsonRpcProvider;
    const start = await provider.getBlockNumber();
    const tx = await devWallet(0)
      .connect(provider)
      .sendTransaction({ to: devWallet(1).address, value: 1n });
    // Not mined on arrival, as on a public chain.
    expect(await provider.getTransactionReceipt(tx.hash)).toBeNull();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await provider.getBlockNumber()).toBeGreaterThan(start);
    expect((await provider.getTransactionReceipt(tx.hash))?.status).toBe(1);
    await chain.stop();
  });

  it("takes a whole number of seconds from 0 to an hour as the block time, and refuses anything else", () => {
    expect(miningConfig({})).toEqual({ auto: true, interval: 0 });
    expect(miningConfig({ blockTimeSeconds: 2 })).toEqual({ auto: false, interval: 2_000 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_BLOCK_TIME_SECONDS }), (n) => {
        expect(miningConfig({ blockTimeSeconds: n }).interval).toBe(n * 1_000);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double().filter((x) => !Number.isInteger(x) || x < 0 || x > MAX_BLOCK_TIME_SECONDS),
          fc.integer({ min: MAX_BLOCK_TIME_SECONDS + 1 }),
          fc.integer({ max: -1 }),
        ),
        (bad) => {
          expect(() => miningConfig({ blockTimeSeconds: bad })).toThrow(RangeError);
        },
      ),
    );
  });
});
