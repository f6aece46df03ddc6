/**
 * The `wireguard` tunnel driver. The provider brings its interface up once (kernel WireGuard or
 * wireguard-go), keeps an address pool, adds one peer per session (the requester's public key
 * and one /32), removes it on teardown, and reads per-peer byte counters and the latest
 * handshake from `wg show <if> dump` for `byte` metering. On start it removes every peer it
 * finds on an existing interface: after a crash no session survives, so no peer may either.
 */
import { join } from "node:path";
import type { TunnelConfig, TunnelRefusal, TunnelRequest, TunnelUsage } from "../driver.ts";
import type { MeteredTunnelDriver, TunnelLimits } from "../metered.ts";
import { SystemTunnelError } from "../system/errors.ts";
import { createRunner, type RunCommand } from "../system/run-command.ts";
import {
  type AddressPool,
  allocateAddress,
  formatIpv4,
  parseAddressPool,
  parseIpv4,
} from "./address-pool.ts";
import {
  createWireGuardInterface,
  deleteInterface,
  interfaceExists,
  type WireGuardImplementation,
} from "./interface.ts";
import { generateWireGuardKeyPair, readKeyFile, wireGuardPublicKey, writeKeyFile } from "./keys.ts";
import { parseWireGuardParams } from "./params.ts";
import { readUapiPeers, uapiSocketPath } from "./uapi.ts";
import { parseWgDump, type WgPeerDump } from "./wg-dump.ts";

/** Options of `createWireGuardDriver`. */
export interface WireGuardDriverOptions {
  /** Interface name (at most 15 characters; unique on the host, as wireguard-go's socket is). */
  readonly interfaceName: string;
  /** Network namespace the interface lives in (commands run via `ip netns exec`); default none. */
  readonly netns?: string | null;
  /** UDP port WireGuard listens on. */
  readonly listenPort: number;
  /** Host or address requesters reach the provider at (the endpoint in READY). */
  readonly endpointHost: string;
  /** Tunnel address pool, e.g. `10.77.0.0/24`; the provider takes the first host. */
  readonly addressPool: string;
  /** Directory of the provider's private key file (`<if>.key`, 0600); made when absent. */
  readonly keyDir: string;
  /** Default `auto`: kernel WireGuard when the kernel has it, else wireguard-go. */
  readonly implementation?: WireGuardImplementation;
  /** Interface MTU (default 1420). */
  readonly mtu?: number;
  /** How often counters are read while a session has a byte budget, ms (default 50). */
  readonly budgetPollMs?: number;
  /** Called when a session's peer is blocked at its budget (the provider may tick early). */
  readonly onLimitReached?: (sessionId: string) => void;
}

/** A peer's counters and handshake. */
export interface WireGuardPeerStats {
  readonly usage: TunnelUsage;
  /** Unix seconds of the latest handshake, 0 when none yet. */
  readonly latestHandshake: number;
}

/** The `wireguard` driver, with what a provider and its tests may also want to see. */
export interface WireGuardDriver extends MeteredTunnelDriver {
  readonly kind: "wireguard";
  /** The provider's public key. */
  readonly publicKey: string;
  /** The implementation in use. */
  readonly implementation: "kernel" | "userspace";
  /** The provider's own tunnel address. */
  readonly gateway: string;
  /** Counters and the latest handshake of a session's peer; null when it has none. */
  peerStats(sessionId: string): Promise<WireGuardPeerStats | null>;
  /** Public keys of the peers currently on the interface (from `wg show`). */
  listPeers(): Promise<readonly string[]>;
}

interface Peer {
  readonly publicKey: string;
  readonly address: number;
  limits: TunnelLimits | null;
  /** True while the peer is off the interface for its budget (no traffic, no counting). */
  blocked: boolean;
  /** Counters of the peer's earlier stints on the interface (it is re-added after a block). */
  baseRx: number;
  baseTx: number;
}

const ZERO: TunnelUsage = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };

/**
 * Brings the provider's interface up (or adopts an existing one and clears its peers) and
 * returns the driver.
 *
 * Counters: `bytesIn` is what the interface received from the peer, `bytesOut` what it sent,
 * both as WireGuard counts them (encrypted transport packets). WireGuard keeps no per-peer
 * packet counters, so `packetsIn`/`packetsOut` stay 0: use `byte` or `second` metering.
 *
 * Budget (`setLimits`): a session that is not admitted, or whose counters reach `maxBytes`, is
 * blocked by taking its peer off the interface (its counters are kept and carried over), and
 * unblocked when its limits grow again. Clearing the allowed IPs would not do: WireGuard still
 * receives, decrypts and counts what the peer sends before dropping it. Counters are read every `budgetPollMs` while a budget is set, so
 * a session overshoots its budget by at most its rate times that interval.
 *
 * @throws SystemTunnelError PARAMS_INVALID (bad pool or name), UNSUPPORTED, COMMAND_MISSING,
 *   COMMAND_FAILED
 * @example
 * const wg = await createWireGuardDriver({
 *   interfaceName: "tw0", listenPort: 51820, endpointHost: "203.0.113.7",
 *   addressPool: "10.77.0.0/24", keyDir: "/var/lib/tollway/wg",
 * });
 * const config = await wg.activate({ sessionId, kind: "wireguard", params: { publicKey } });
 * // config: { endpoint, serverPublicKey, address, allowedIps, gateway, mtu }
 */
export async function createWireGuardDriver(
  opts: WireGuardDriverOptions,
): Promise<WireGuardDriver> {
  const pool = parseAddressPool(opts.addressPool);
  if (pool === null) {
    throw new SystemTunnelError("PARAMS_INVALID", "addressPool must be an IPv4 CIDR, /8 to /30", {
      addressPool: opts.addressPool,
    });
  }
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(opts.interfaceName)) {
    throw new SystemTunnelError("PARAMS_INVALID", "interfaceName: 1-15 of [A-Za-z0-9_.-]", {
      interfaceName: opts.interfaceName,
    });
  }
  const run = createRunner(opts.netns ?? null);
  const name = opts.interfaceName;
  const keyPath = join(opts.keyDir, `${name}.key`);
  let privateKey = await readKeyFile(keyPath);
  if (privateKey === null) {
    privateKey = generateWireGuardKeyPair().privateKey;
    await writeKeyFile(opts.keyDir, `${name}.key`, privateKey);
  } else {
    await writeKeyFile(opts.keyDir, `${name}.key`, privateKey);
  }
  const publicKey = wireGuardPublicKey(privateKey);
  privateKey = null;

  let implementation: "kernel" | "userspace";
  if (await interfaceExists(run, name)) {
    implementation = (await probeKernel(run, name)) ? "kernel" : "userspace";
  } else {
    implementation = await createWireGuardInterface(run, name, opts.implementation ?? "auto");
  }
  const driver = new WgDriver(run, name, pool, opts, publicKey, implementation);
  try {
    await driver.start(keyPath);
  } catch (err) {
    await deleteInterface(run, name).catch(() => undefined);
    throw err;
  }
  return driver;
}

/** An existing interface is a kernel one when `ip -d link` says so. */
async function probeKernel(run: RunCommand, name: string): Promise<boolean> {
  const { stdout } = await run(["ip", "-d", "link", "show", "dev", name]);
  return /\bwireguard\b/.test(stdout);
}

class WgDriver implements WireGuardDriver {
  readonly kind = "wireguard" as const;
  readonly publicKey: string;
  readonly implementation: "kernel" | "userspace";
  readonly gateway: string;
  readonly #run: RunCommand;
  readonly #name: string;
  readonly #pool: AddressPool;
  readonly #opts: WireGuardDriverOptions;
  readonly #peers = new Map<string, Peer>();
  /** Mutations of the interface and the pool run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    run: RunCommand,
    name: string,
    pool: AddressPool,
    opts: WireGuardDriverOptions,
    publicKey: string,
    implementation: "kernel" | "userspace",
  ) {
    this.#run = run;
    this.#name = name;
    this.#pool = pool;
    this.#opts = opts;
    this.publicKey = publicKey;
    this.implementation = implementation;
    this.gateway = formatIpv4(pool.gateway);
  }

  /** Configures the interface and reconciles its peers with our (empty) session table. */
  async start(keyPath: string): Promise<void> {
    const run = this.#run;
    const name = this.#name;
    await run([
      "wg",
      "set",
      name,
      "listen-port",
      String(this.#opts.listenPort),
      "private-key",
      keyPath,
    ]);
    const { stdout } = await run(["ip", "-4", "-o", "addr", "show", "dev", name]);
    const want = `${this.gateway}/${this.#pool.prefix}`;
    if (!stdout.includes(` ${want} `)) {
      await run(["ip", "addr", "flush", "dev", name]);
      await run(["ip", "addr", "add", want, "dev", name]);
    }
    await run(["ip", "link", "set", "dev", name, "mtu", String(this.#opts.mtu ?? 1420), "up"]);
    for (const peer of await this.#dumpPeers()) {
      await run(["wg", "set", name, "peer", peer.publicKey, "remove"]);
    }
  }

  /** Set once the UAPI socket failed: from then on counters come from `wg show` only. */
  #uapiFailure: Error | null = null;

  async #dumpPeers(): Promise<readonly WgPeerDump[]> {
    // wireguard-go answers on its UAPI socket without a process being spawned.
    if (this.implementation === "userspace" && this.#uapiFailure === null) {
      try {
        return await readUapiPeers(uapiSocketPath(this.#name));
      } catch (err) {
        this.#uapiFailure = err instanceof Error ? err : new Error(String(err));
      }
    }
    const { stdout } = await this.#run(["wg", "show", this.#name, "dump"]);
    return parseWgDump(stdout).peers;
  }

  /** Bumped whenever a peer is added or removed: a reading taken across a change is stale. */
  #generation = 0;
  #shared: { at: number; gen: number; peers: Promise<readonly WgPeerDump[]> } | null = null;

  /**
   * A `wg show` reading for metering, shared by every caller within one budget poll, so that the
   * budget loop and usage reads spawn one process per period instead of one each. A reading is
   * used only if no peer was added or removed while it ran, or a removed peer's counters, already
   * carried into its base, would be counted twice.
   */
  async #meterDump(): Promise<readonly WgPeerDump[]> {
    for (;;) {
      const gen = this.#generation;
      const now = performance.now();
      let shared = this.#shared;
      if (
        shared === null ||
        shared.gen !== gen ||
        now - shared.at >= (this.#opts.budgetPollMs ?? 50)
      ) {
        shared = { at: now, gen, peers: this.#dumpPeers() };
        this.#shared = shared;
      }
      let peers: readonly WgPeerDump[];
      try {
        peers = await shared.peers;
      } catch (err) {
        if (this.#shared === shared) this.#shared = null;
        throw err;
      }
      if (this.#generation === gen) return peers;
    }
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(job, job);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  check(params: Readonly<Record<string, string | number>>): TunnelRefusal | null {
    const parsed = parseWireGuardParams(params);
    if (!parsed.ok) return { code: "TUNNEL_PARAMS_INVALID", reason: parsed.reason };
    if (this.#closed || this.#freeAddress() === null) {
      return { code: "TUNNEL_UNAVAILABLE", reason: "no tunnel address left" };
    }
    return null;
  }

  /** The first pool address no peer holds, or null. */
  #freeAddress(): number | null {
    return allocateAddress(this.#pool, new Set([...this.#peers.values()].map((p) => p.address)));
  }

  activate(request: TunnelRequest): Promise<TunnelConfig> {
    return this.#serial(async () => {
      if (this.#closed) throw new SystemTunnelError("DRIVER_CLOSED", "driver closed");
      const params = parseWireGuardParams(request.params);
      if (!params.ok) {
        throw new SystemTunnelError(params.code, params.reason, { sessionId: request.sessionId });
      }
      const { publicKey } = params.value;
      if (this.#peers.has(request.sessionId)) {
        throw new SystemTunnelError("SESSION_EXISTS", "session already has a peer", {
          sessionId: request.sessionId,
        });
      }
      for (const p of this.#peers.values()) {
        if (p.publicKey === publicKey) {
          throw new SystemTunnelError("PEER_IN_USE", "public key in use by another session", {
            sessionId: request.sessionId,
          });
        }
      }
      const address = this.#freeAddress();
      if (address === null) {
        throw new SystemTunnelError("POOL_EXHAUSTED", "no tunnel address left", {
          pool: this.#pool.cidr,
        });
      }
      const ip = formatIpv4(address);
      await this.#run(["wg", "set", this.#name, "peer", publicKey, "allowed-ips", `${ip}/32`]);
      this.#generation++;
      this.#peers.set(request.sessionId, {
        publicKey,
        address,
        limits: null,
        blocked: false,
        baseRx: 0,
        baseTx: 0,
      });
      return {
        endpoint: `${this.#opts.endpointHost}:${this.#opts.listenPort}`,
        serverPublicKey: this.publicKey,
        address: `${ip}/32`,
        gateway: this.gateway,
        allowedIps: this.#pool.cidr,
        mtu: this.#opts.mtu ?? 1420,
      };
    });
  }

  deactivate(sessionId: string): Promise<void> {
    return this.#serial(async () => {
      const peer = this.#peers.get(sessionId);
      if (peer === undefined) return;
      if (!peer.blocked)
        await this.#run(["wg", "set", this.#name, "peer", peer.publicKey, "remove"]);
      this.#generation++;
      // The address goes back to the pool only once the peer is gone.
      this.#peers.delete(sessionId);
      this.#arm();
    });
  }

  setLimits(sessionId: string, limits: TunnelLimits): void {
    const peer = this.#peers.get(sessionId);
    if (peer === undefined) return;
    peer.limits = limits;
    this.#enforce().catch(() => undefined);
    this.#arm();
  }

  #timer: NodeJS.Timeout | null = null;

  /** Polls counters while any session has a byte budget. */
  #arm(): void {
    const any = [...this.#peers.values()].some((p) => p.limits?.maxBytes != null);
    if (!any || this.#closed) {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
      return;
    }
    this.#timer ??= setInterval(() => {
      this.#enforce().catch(() => undefined);
    }, this.#opts.budgetPollMs ?? 50);
    this.#timer.unref();
  }

  #enforcing = false;

  /** Blocks peers past their budget and unblocks those whose budget grew. */
  async #enforce(): Promise<void> {
    if (this.#enforcing || this.#closed) return;
    this.#enforcing = true;
    try {
      const dump = new Map((await this.#meterDump()).map((p) => [p.publicKey, p]));
      for (const [sessionId, peer] of this.#peers) {
        const l = peer.limits;
        if (l === null) continue;
        const d = dump.get(peer.publicKey);
        const used = peer.baseRx + peer.baseTx + (d?.rxBytes ?? 0) + (d?.txBytes ?? 0);
        const block = !l.admit || (l.maxBytes !== null && used >= l.maxBytes);
        if (block === peer.blocked) continue;
        await this.#serial(async () => {
          if (this.#peers.get(sessionId) !== peer) return;
          if (block) {
            const last = (await this.#dumpPeers()).find((p) => p.publicKey === peer.publicKey);
            await this.#run(["wg", "set", this.#name, "peer", peer.publicKey, "remove"]);
            this.#generation++;
            peer.baseRx += last?.rxBytes ?? 0;
            peer.baseTx += last?.txBytes ?? 0;
          } else {
            const ip = `${formatIpv4(peer.address)}/32`;
            await this.#run(["wg", "set", this.#name, "peer", peer.publicKey, "allowed-ips", ip]);
            this.#generation++;
          }
          peer.blocked = block;
        });
        if (block) this.#opts.onLimitReached?.(sessionId);
      }
    } finally {
      this.#enforcing = false;
    }
  }

  async peerStats(sessionId: string): Promise<WireGuardPeerStats | null> {
    const peer = this.#peers.get(sessionId);
    if (peer === undefined || this.#closed) return null;
    const found = (await this.#meterDump()).find((p) => p.publicKey === peer.publicKey);
    return {
      usage: {
        bytesIn: peer.baseRx + (found?.rxBytes ?? 0),
        bytesOut: peer.baseTx + (found?.txBytes ?? 0),
        packetsIn: 0,
        packetsOut: 0,
      },
      latestHandshake: found?.latestHandshake ?? 0,
    };
  }

  async readUsage(sessionId: string): Promise<TunnelUsage> {
    return (await this.peerStats(sessionId))?.usage ?? ZERO;
  }

  async listPeers(): Promise<readonly string[]> {
    return (await this.#dumpPeers()).map((p) => p.publicKey);
  }

  close(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#peers.clear();
      this.#arm();
      await deleteInterface(this.#run, this.#name);
    });
  }
}

/** Parses a `/32` tunnel address from a READY configuration; null when malformed. */
export function tunnelAddressOf(config: TunnelConfig): string | null {
  const a = config.address;
  if (typeof a !== "string") return null;
  const ip = a.split("/")[0] ?? "";
  return parseIpv4(ip) === null ? null : ip;
}
