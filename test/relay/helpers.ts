/**
 * Shared fixtures of the relay tests: keys, a provider node on a temp store, channels opened on an
 * in-memory settlement chain that the node resolves them through.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSigner } from "../../channels/crypto/signer.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import { MemoryChain } from "../../channels/settlement/memory/memory-chain.ts";
import type { ChannelDomain } from "../../channels/types.ts";
import {
  createProviderNode,
  type ProviderNode,
  type ProviderNodeOptions,
} from "../../relay/provider/index.ts";
import type { SessionChannel } from "../../relay/requester/client.ts";
import type { MeteredTunnelDriver } from "../../relay/tunnel/metered.ts";
import { createProxyDriver } from "../../relay/tunnel/proxy/proxy-driver.ts";

/** A deterministic private key from a label. */
export function keyOf(label: string): Uint8Array {
  return createHash("sha256").update(`tollway-relay-test:${label}`).digest();
}

export const domain: ChannelDomain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};

export const providerKey = keyOf("provider");
export const providerAddress = createSigner(providerKey).address;

let shared: VerifyPool | undefined;
/** One verify pool per test file (workers take a while to start). */
export async function sharedPool(): Promise<VerifyPool> {
  shared ??= await VerifyPool.create({ threads: 1 });
  return shared;
}

/** The deepest deposit the chain takes (uint112, as PaymentChannels). */
export const MAX_DEPOSIT = (1n << 112n) - 1n;

/** A fresh in-memory chain under the tests' domain. */
export function memoryChain(): MemoryChain {
  return new MemoryChain({ domain });
}

/**
 * Opens a channel from `requesterKey`'s account to the provider on `chain` (minting its deposit
 * first) and returns what a session pays on.
 */
export function openOn(
  chain: MemoryChain,
  requesterKey: Uint8Array,
  depositA: bigint,
): SessionChannel {
  const requester = createSigner(requesterKey).address;
  chain.mint(requester, depositA);
  const { channelId, ref } = chain.execute(requester, {
    type: "ChainSendOpen",
    partner: providerAddress,
    amount: depositA,
    settleWindow: 600,
  });
  return { channelId, ref, depositA };
}

export interface TestProvider {
  readonly node: ProviderNode;
  /** The chain the node resolves channels on. */
  readonly chain: MemoryChain;
  readonly proxy: MeteredTunnelDriver & { readonly port: number };
  readonly dir: string;
  /** Opens a channel from `requesterKey`'s account to the provider and returns it. */
  channel(requesterKey: Uint8Array, depositA: bigint): SessionChannel;
  stop(): Promise<void>;
}

/** Starts a provider with a proxy driver on a fresh temp store (and chain, unless given). */
export async function startProvider(
  over: Partial<ProviderNodeOptions> = {},
  dir = mkdtempSync(join(tmpdir(), "tollway-relay-")),
  chain = memoryChain(),
): Promise<TestProvider> {
  const proxy = await createProxyDriver();
  const node = await createProviderNode({
    key: providerKey,
    settlement: chain.backendFor(providerAddress),
    storeDir: dir,
    drivers: [proxy],
    pricing: {
      second: { unitPrice: 10n, creditLimit: 20n, graceMs: 500 },
      byte: { unitPrice: 1n, creditLimit: 16_384n, graceMs: 300, tickMs: 200 },
      packet: { unitPrice: 5n, creditLimit: 50n, graceMs: 300 },
    },
    verifyPool: await sharedPool(),
    ...over,
  });
  return {
    node,
    chain,
    proxy,
    dir,
    channel: (requesterKey, depositA) => openOn(chain, requesterKey, depositA),
    async stop() {
      await node.close();
      await proxy.close();
    },
  };
}

/** Removes a temp store. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` is true or the time is up. */
export async function until(fn: () => boolean, ms = 5_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
