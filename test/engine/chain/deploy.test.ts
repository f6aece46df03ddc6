/**
 * The deploy step puts nitro-protocol's NitroAdjudicator, ConsensusApp and VirtualPaymentApp
 * beside Token and PaymentChannels (which keep their addresses), on a chain that mines on each
 * transaction or on a timer; saved deployments keep them, and files saved before still load.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, getCreateAddress, type Provider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerFor } from "../../../channels/chain/client.ts";
import { loadNitroArtifact } from "../../../channels/settlement/nitro/artifacts.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  deploymentFile,
  devWallet,
  loadDeployment,
  saveDeployment,
  startEmbeddedChain,
} from "../../../engine/chain/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-deploy-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const holders = [{ address: devWallet(1).address as Address, amount: 10n ** 21n }];

async function expectNitro(provider: Provider, d: Awaited<ReturnType<typeof deployContracts>>) {
  const deployer = devWallet(0).address;
  expect(d.channels).toBe(getCreateAddress({ from: deployer, nonce: 1 }));
  expect([d.nitro.adjudicator, d.nitro.consensusApp, d.nitro.virtualPaymentApp]).toEqual(
    [2, 3, 4].map((nonce) => getCreateAddress({ from: deployer, nonce })),
  );
  for (const [name, at] of [
    ["NitroAdjudicator", d.nitro.adjudicator],
    ["ConsensusApp", d.nitro.consensusApp],
    ["VirtualPaymentApp", d.nitro.virtualPaymentApp],
  ] as const) {
    expect(await provider.getCode(at)).toBe(loadNitroArtifact(name).deployedBytecode);
  }
  // Sent right after PaymentChannels, before it was mined.
  expect(d.nitro.deployedAtBlock).toBeGreaterThanOrEqual(d.deployedAtBlock);
  const adjudicator = new Contract(
    d.nitro.adjudicator,
    loadNitroArtifact("NitroAdjudicator").abi,
    provider,
  );
  expect(await adjudicator.getFunction("statusOf")(`0x${"11".repeat(32)}`)).toBe(
    `0x${"00".repeat(32)}`,
  );
}

describe("deploying the Nitro contracts", () => {
  it("deploys them after PaymentChannels on a chain that mines on each transaction", async () => {
    const chain = await startEmbeddedChain();
    const provider = providerFor(chain.provider!);
    const d = await deployContracts(devWallet(0).connect(provider), { holders });
    await expectNitro(provider, d);
    await chain.stop();
  });

  it("deploys them on a chain that mines on a timer", async () => {
    const chain = await startEmbeddedChain({ blockTimeSeconds: 1 });
    const provider = providerFor(chain.provider!);
    const d = await deployContracts(devWallet(0).connect(provider), { holders });
    await expectNitro(provider, d);
    await chain.stop();
  }, 30_000);

  it("saves and loads their addresses, and loads a deployment saved before without them", async () => {
    const chain = await startEmbeddedChain();
    const provider = providerFor(chain.provider!);
    const d = await deployContracts(devWallet(0).connect(provider), { holders });
    await saveDeployment(dir, d);
    expect(await loadDeployment(dir, provider)).toEqual(d);
    const { nitro: _nitro, ...before } = d;
    await writeFile(deploymentFile(dir, 31337n), `${JSON.stringify(before, null, 2)}\n`);
    const loaded = await loadDeployment(dir, provider);
    expect(loaded).toEqual(before);
    expect(loaded?.nitro).toBeUndefined();
    await chain.stop();
  });
});
