import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectChain, providerFor } from "../../../channels/chain/client.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  loadDeployment,
  saveDeployment,
  serveEmbeddedChain,
  startEmbeddedChain,
} from "../../../engine/chain/index.ts";

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
});
