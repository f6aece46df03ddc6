/**
 * A provider: a relay node selling a metered proxy, paid over channels it finds through the
 * settlement interface.
 */
import { getBytes, type HDNodeWallet, type Wallet } from "ethers";
import type { Address, SettlementBackend } from "../../channels/index.ts";
import {
  createProviderNode,
  createProxyDriver,
  type MeterMode,
  type PricePolicy,
  type ProviderNode,
  type ProxyDriverOptions,
} from "../../relay/index.ts";
import { accountLayout, migrateLegacyStores } from "./layout.ts";
import { MarketClient } from "./market-client.ts";
import { type NodeServices, startNodeServices } from "./node-services.ts";

/** Options of {@link createProvider}. */
export interface ProviderOptions {
  readonly wallet: Wallet | HDNodeWallet;
  /** The chain, through the settlement interface, acting for the same wallet. */
  readonly settlement: SettlementBackend;
  /**
   * The data directory: the channel store is `<dataDir>/<address>/channels` (see layout.ts; a
   * store of the older layout is moved there first).
   */
  readonly dataDir: string;
  readonly pricing: Partial<Record<MeterMode, PricePolicy>>;
  readonly marketUrl?: string;
  readonly host?: string;
  readonly port?: number;
  /** The metered proxy's options, e.g. `allow` for a destination on loopback. */
  readonly proxy?: ProxyDriverOptions;
  /** Run the dispute watcher for this account's channels (default true). */
  readonly watch?: boolean;
  /** Where a new watcher starts reading events (default 0; the CLI passes the deployment's block). */
  readonly watchFromBlock?: number;
  /** Watcher poll interval, ms (default 2,000). */
  readonly pollIntervalMs?: number;
  /** Serve the control socket `<dataDir>/<address>/node.sock` (default true). */
  readonly control?: boolean;
  /** Lines for the operator from the watcher and the control socket (default: none). */
  readonly log?: (line: string) => void;
}

/** A running provider. */
export interface Provider {
  readonly node: ProviderNode;
  /** The relay's WebSocket URL. */
  readonly url: string;
  readonly market?: MarketClient;
  /** The watcher and control socket (absent on nodes assembled by hand, as the demo's WireGuard one). */
  readonly services?: NodeServices;
  close(): Promise<void>;
}

/**
 * Starts a provider node with the metered proxy on loopback.
 * @example const p = await createProvider({ wallet, settlement, dataDir, pricing: { second: { unitPrice: 10n ** 15n, creditLimit: 2n * 10n ** 15n, graceMs: 1000 } } });
 */
export async function createProvider(opts: ProviderOptions): Promise<Provider> {
  const address = opts.wallet.address as Address;
  const layout = accountLayout(opts.dataDir, address);
  await migrateLegacyStores(opts.dataDir, address);
  const proxy = await createProxyDriver(opts.proxy);
  let node: ProviderNode;
  try {
    node = await createProviderNode({
      key: getBytes(opts.wallet.privateKey),
      settlement: opts.settlement,
      storeDir: layout.channels,
      drivers: [proxy],
      pricing: opts.pricing,
      ...(opts.host ? { host: opts.host } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
    });
  } catch (err) {
    await proxy.close();
    throw err;
  }
  let services: NodeServices;
  try {
    services = await startNodeServices({
      settlement: opts.settlement,
      address,
      role: "provider",
      layout,
      loadChannel: (id) => node.loadChannel(id),
      fromBlock: opts.watchFromBlock ?? 0,
      ...(opts.watch !== undefined ? { watch: opts.watch } : {}),
      ...(opts.control !== undefined ? { control: opts.control } : {}),
      ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
      log: opts.log ?? (() => undefined),
    });
  } catch (err) {
    await node.close();
    await proxy.close();
    throw err;
  }
  const chainId = Number(opts.settlement.domain.chainId);
  return {
    node,
    url: node.url,
    services,
    ...(opts.marketUrl ? { market: new MarketClient(opts.marketUrl, opts.wallet, chainId) } : {}),
    async close() {
      await services.close();
      await node.close();
      await proxy.close();
    },
  };
}
