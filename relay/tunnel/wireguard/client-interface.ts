/**
 * Brings the requester's own WireGuard interface up from a READY configuration (kernel or
 * wireguard-go), in the current namespace or in `netns`, and takes it down again.
 */

import type { TunnelConfig } from "../driver.ts";
import { SystemTunnelError } from "../system/errors.ts";
import { createRunner } from "../system/run-command.ts";
import { parseWireGuardConfig, type WireGuardClientConfig } from "./client-config.ts";
import {
  createWireGuardInterface,
  deleteInterface,
  type WireGuardImplementation,
} from "./interface.ts";
import { writeKeyFile } from "./keys.ts";
import { parseWgDump } from "./wg-dump.ts";

/** Options of `bringUpWireGuardClient`. */
export interface WireGuardClientOptions {
  /** Interface name (at most 15 characters, unique on the host). */
  readonly interfaceName: string;
  readonly netns?: string | null;
  /** The requester's private key (the public half went to the provider in OPEN). */
  readonly privateKey: string;
  /** Where the private key file is written (0600). */
  readonly keyDir: string;
  /** The `tunnel` of READY. */
  readonly config: TunnelConfig;
  readonly implementation?: WireGuardImplementation;
  /** Keepalive, seconds (default 0: none). */
  readonly keepaliveSeconds?: number;
}

/** A requester's interface that is up. */
export interface WireGuardClient {
  readonly config: WireGuardClientConfig;
  /** Bytes received from and sent to the provider, and the latest handshake (unix s). */
  stats(): Promise<{ rxBytes: number; txBytes: number; latestHandshake: number }>;
  /** Deletes the interface (idempotent). */
  down(): Promise<void>;
}

/**
 * Brings the requester's interface up.
 * @throws SystemTunnelError PARAMS_INVALID (bad configuration), UNSUPPORTED, COMMAND_FAILED
 * @example
 * const keys = generateWireGuardKeyPair();
 * // OPEN with { publicKey: keys.publicKey }; READY brings `session.tunnel`
 * const wg = await bringUpWireGuardClient({
 *   interfaceName: "tw-client", privateKey: keys.privateKey, keyDir, config: session.tunnel,
 * });
 */
export async function bringUpWireGuardClient(
  opts: WireGuardClientOptions,
): Promise<WireGuardClient> {
  const parsed = parseWireGuardConfig(opts.config);
  if (!parsed.ok) throw new SystemTunnelError(parsed.code, parsed.reason);
  const config = parsed.value;
  const run = createRunner(opts.netns ?? null);
  const name = opts.interfaceName;
  await createWireGuardInterface(run, name, opts.implementation ?? "auto");
  try {
    const keyPath = await writeKeyFile(opts.keyDir, `${name}.key`, opts.privateKey);
    const peer = ["peer", config.serverPublicKey, "endpoint", config.endpoint];
    peer.push("allowed-ips", config.allowedIps);
    if ((opts.keepaliveSeconds ?? 0) > 0) {
      peer.push("persistent-keepalive", String(opts.keepaliveSeconds));
    }
    await run(["wg", "set", name, "private-key", keyPath, ...peer]);
    await run(["ip", "addr", "add", `${config.address}/32`, "dev", name]);
    await run(["ip", "link", "set", "dev", name, "mtu", String(config.mtu), "up"]);
    await run(["ip", "route", "replace", config.allowedIps, "dev", name]);
  } catch (err) {
    await deleteInterface(run, name).catch(() => undefined);
    throw err;
  }
  let down = false;
  return {
    config,
    async stats() {
      const { stdout } = await run(["wg", "show", name, "dump"]);
      const p = parseWgDump(stdout).peers[0];
      return {
        rxBytes: p?.rxBytes ?? 0,
        txBytes: p?.txBytes ?? 0,
        latestHandshake: p?.latestHandshake ?? 0,
      };
    },
    async down() {
      if (down) return;
      down = true;
      await deleteInterface(run, name);
    },
  };
}
