/** A provider: a relay node selling a metered proxy, paid over channels found on chain. */
import { join } from "node:path";
import { getBytes, type HDNodeWallet, type Wallet } from "ethers";
import type { ChainClient } from "../../channels/chain/client.ts";
import {
  chainDirectory,
  createProviderNode,
  createProxyDriver,
  type MeterMode,
  type PricePolicy,
  type ProviderNode,
  type ProxyDriverOptions,
} from "../../relay/index.ts";
import { MarketClient } from "./market-client.ts";

/** Options of {@link createProvider}. */
export interface ProviderOptions {
  readonly wallet: Wallet | HDNodeWallet;
  /** A chain client signed by the same wallet. */
  readonly chain: ChainClient;
  /** Where the channel store lives. */
  readonly dataDir: string;
  readonly pricing: Partial<Record<MeterMode, PricePolicy>>;
  readonly marketUrl?: string;
  readonly host?: string;
  readonly port?: number;
  /** The metered proxy's options, e.g. `allow` for a destination on loopback. */
  readonly proxy?: ProxyDriverOptions;
}

/** A running provider. */
export interface Provider {
  readonly node: ProviderNode;
  /** The relay's WebSocket URL. */
  readonly url: string;
  readonly market?: MarketClient;
  close(): Promise<void>;
}

/**
 * Starts a provider node with the metered proxy on loopback.
 * @example const p = await createProvider({ wallet, chain, dataDir, pricing: { second: { unitPrice: 10n ** 15n, creditLimit: 2n * 10n ** 15n, graceMs: 1000 } } });
 */
export async function createProvider(opts: ProviderOptions): Promise<Provider> {
  const proxy = await createProxyDriver(opts.proxy);
  let node: ProviderNode;
  try {
    node = await createProviderNode({
      key: getBytes(opts.wallet.privateKey),
      domain: opts.chain.domain,
      storeDir: join(opts.dataDir, "channels"),
      drivers: [proxy],
      pricing: opts.pricing,
      channels: chainDirectory(opts.chain),
      ...(opts.host ? { host: opts.host } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
    });
  } catch (err) {
    await proxy.close();
    throw err;
  }
  const chainId = Number(opts.chain.chainId);
  return {
    node,
    url: node.url,
    ...(opts.marketUrl
      ? { market: new MarketClient(opts.marketUrl, opts.wallet as Wallet, chainId) }
      : {}),
    async close() {
      await node.close();
      await proxy.close();
    },
  };
}
