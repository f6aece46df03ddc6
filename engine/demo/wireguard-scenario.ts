/**
 * The demo's WireGuard world: a provider and a requester namespace joined by a veth pair, the
 * provider node driving a WireGuard interface in its namespace, the website inside the provider
 * namespace (reached only through the tunnel), and the requester's side of each paid session.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getBytes } from "ethers";
import type { ResultPromise } from "execa";
import {
  bringUpWireGuardClient,
  createProviderNode,
  createWireGuardDriver,
  generateWireGuardKeyPair,
  type ProviderNode,
  type Session,
  type WireGuardClient,
  type WireGuardDriver,
} from "../../relay/index.ts";
import { MarketClient } from "../node/market-client.ts";
import type { Provider, ProviderOptions } from "../node/provider.ts";
import type { CrawlCounters } from "./crawler.ts";
import { createDemoNet, type DemoNet, DemoUnsupportedError, demoNetSupport } from "./namespaces.ts";

const SITE_PORT = 8080;
const WG_POOL = "10.78.0.0/24";

/** The namespaces and the site of a WireGuard demo. */
export interface WireGuardWorld {
  readonly net: DemoNet;
  readonly providerNs: string;
  readonly requesterNs: string;
  /** The provider's veth address: the WireGuard endpoint. */
  readonly providerIp: string;
  readonly keyDir: string;
  /** Kills the site, deletes every namespace (idempotent). */
  close(): Promise<void>;
}

/**
 * Creates the namespaces and starts the site in the provider's.
 * @throws DemoUnsupportedError DEMO_UNSUPPORTED when root, `ip netns`, `wg` or `wireguard-go` is missing
 */
export async function startWireGuardWorld(keyDir: string): Promise<WireGuardWorld> {
  const support = await demoNetSupport(["wg", "wireguard-go", "curl"]);
  if (!support.ok)
    throw new DemoUnsupportedError(
      `the WireGuard demo needs root: ${support.reason}`,
      support.details,
    );
  const net = await createDemoNet();
  try {
    const providerNs = await net.host("p");
    const requesterNs = await net.host("r");
    const providerIp = (await net.link(requesterNs, providerNs, "192.168.78")).b.ip;
    const site = net.spawn(providerNs, [
      process.execPath,
      fileURLToPath(new URL("./site-main.ts", import.meta.url)),
      "0.0.0.0",
      String(SITE_PORT),
    ]);
    await waitForReady(site);
    return { net, providerNs, requesterNs, providerIp, keyDir, close: () => net.destroy() };
  } catch (err) {
    await net.destroy();
    throw err;
  }
}

async function waitForReady(child: ResultPromise): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the demo site did not start")), 10_000);
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      reject(new Error(`the demo site exited: ${String(r.stderr).slice(0, 200)}`));
    });
  });
}

/**
 * Starts a provider node selling WireGuard tunnels from the world's provider namespace, paid over
 * channels found on chain (the WireGuard twin of `createProvider`).
 */
export async function createWireGuardProvider(
  world: WireGuardWorld,
  opts: ProviderOptions,
): Promise<Provider & { readonly driver: WireGuardDriver }> {
  const driver = await createWireGuardDriver({
    interfaceName: world.net.ifname("wp"),
    netns: world.providerNs,
    listenPort: 51820,
    endpointHost: world.providerIp,
    addressPool: WG_POOL,
    keyDir: world.keyDir,
  });
  let node: ProviderNode;
  try {
    node = await createProviderNode({
      key: getBytes(opts.wallet.privateKey),
      settlement: opts.settlement,
      storeDir: join(opts.dataDir, "channels"),
      drivers: [driver],
      pricing: opts.pricing,
    });
  } catch (err) {
    await driver.close();
    throw err;
  }
  return {
    node,
    driver,
    url: node.url,
    ...(opts.marketUrl
      ? {
          market: new MarketClient(
            opts.marketUrl,
            opts.wallet,
            Number(opts.settlement.domain.chainId),
          ),
        }
      : {}),
    async close() {
      await node.close();
      await driver.close();
    },
  };
}

/** The requester's side of one paid WireGuard session. */
export interface WireGuardLeg {
  /** What to put in OPEN. */
  readonly tunnel: { kind: "wireguard"; params: { publicKey: string } };
  /** Bytes both ways on the requester's interface, polled every 50 ms (the per-byte meter). */
  readonly meter: () => number;
  /** Brings the interface up with the READY configuration. */
  attach(session: Session): Promise<void>;
  /** GETs a page of the site through the tunnel (curl in the requester namespace). */
  fetch(path: string, counters: CrawlCounters): Promise<void>;
  /** Takes the interface down (idempotent). */
  close(): Promise<void>;
}

/** Prepares a session's WireGuard keys; `attach` brings the interface up once READY came. */
export function wireGuardLeg(world: WireGuardWorld, gateway: string, name: string): WireGuardLeg {
  const keys = generateWireGuardKeyPair();
  let own = 0;
  let wg: WireGuardClient | null = null;
  let poll: NodeJS.Timeout | undefined;
  return {
    tunnel: { kind: "wireguard", params: { publicKey: keys.publicKey } },
    meter: () => own,
    async attach(session) {
      wg = await bringUpWireGuardClient({
        interfaceName: world.net.ifname(name),
        netns: world.requesterNs,
        privateKey: keys.privateKey,
        keyDir: world.keyDir,
        config: session.tunnel,
      });
      poll = setInterval(() => {
        wg?.stats()
          .then((s) => {
            own = s.rxBytes + s.txBytes;
          })
          .catch(() => undefined);
      }, 50);
    },
    async fetch(path, counters) {
      const out = await world.net
        .exec(world.requesterNs, [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "--max-time",
          "5",
          "-w",
          "%{size_download} %{size_header} %{size_request}",
          `http://${gateway}:${SITE_PORT}${path}`,
        ])
        .catch(() => "");
      const sizes = out.split(" ").map(Number);
      if (!(sizes[0] ?? 0)) return;
      counters.bytes += sizes.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
      counters.pages++;
    },
    async close() {
      clearInterval(poll);
      await wg?.down();
    },
  };
}
