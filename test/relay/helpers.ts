/** Shared fixtures of the relay tests: keys, a provider node on a temp store, channels. */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSigner } from "../../channels/crypto/signer.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import type { Address, ChannelDomain } from "../../channels/types.ts";
import {
  channelIdOf,
  type MemoryDirectory,
  memoryDirectory,
} from "../../relay/provider/channel-directory.ts";
import {
  createProviderNode,
  type ProviderNode,
  type ProviderNodeOptions,
} from "../../relay/provider/index.ts";
import type { ChannelRef } from "../../relay/requester/client.ts";
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

export interface TestProvider {
  readonly node: ProviderNode;
  readonly directory: MemoryDirectory;
  readonly proxy: MeteredTunnelDriver & { readonly port: number };
  readonly dir: string;
  /** Registers a channel opened by `requesterKey` to the provider and returns its reference. */
  channel(requesterKey: Uint8Array, depositA: bigint, salt?: bigint): ChannelRef;
  stop(): Promise<void>;
}

let salts = 1n;

/** Starts a provider with a proxy driver on a fresh temp store. */
export async function startProvider(
  over: Partial<ProviderNodeOptions> = {},
  dir = mkdtempSync(join(tmpdir(), "tollway-relay-")),
): Promise<TestProvider> {
  const directory = memoryDirectory();
  const proxy = await createProxyDriver();
  const node = await createProviderNode({
    key: providerKey,
    domain,
    storeDir: dir,
    drivers: [proxy],
    pricing: {
      second: { unitPrice: 10n, creditLimit: 20n, graceMs: 500 },
      byte: { unitPrice: 1n, creditLimit: 16_384n, graceMs: 300, tickMs: 200 },
      packet: { unitPrice: 5n, creditLimit: 50n, graceMs: 300 },
    },
    channels: directory,
    verifyPool: await sharedPool(),
    ...over,
  });
  return {
    node,
    directory,
    proxy,
    dir,
    channel(requesterKey, depositA, salt = salts++) {
      const requester = createSigner(requesterKey).address;
      const channelId = channelIdOf(requester, providerAddress as Address, salt, 7n);
      directory.add(channelId, requester, providerAddress, {
        depositA,
        depositB: 0n,
        settleWindow: 600,
      });
      return { channelId, salt, openBlock: 7n, depositA };
    },
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
