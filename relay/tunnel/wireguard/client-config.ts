/**
 * The requester's side of a `wireguard` tunnel (pure): reading the READY configuration and
 * rendering it as a wg-quick file for requesters who bring the tunnel up themselves.
 */
import type { TunnelConfig } from "../driver.ts";
import { parseAddressPool, parseIpv4 } from "./address-pool.ts";
import { isWireGuardKey, type ParamsResult } from "./params.ts";

/** A checked READY configuration. */
export interface WireGuardClientConfig {
  /** `host:port` of the provider. */
  readonly endpoint: string;
  readonly serverPublicKey: string;
  /** The requester's tunnel address (no prefix). */
  readonly address: string;
  /** The provider's own tunnel address. */
  readonly gateway: string;
  /** What to route through the tunnel (CIDR). */
  readonly allowedIps: string;
  readonly mtu: number;
}

/** Checks a READY configuration from a `wireguard` provider. */
export function parseWireGuardConfig(config: TunnelConfig): ParamsResult<WireGuardClientConfig> {
  const bad = (reason: string) => ({ ok: false as const, code: "PARAMS_INVALID" as const, reason });
  const { endpoint, serverPublicKey, address, gateway, allowedIps, mtu } = config;
  if (typeof endpoint !== "string" || !/^[^\s:]+:[0-9]{1,5}$/.test(endpoint)) {
    return bad("endpoint must be host:port");
  }
  if (typeof serverPublicKey !== "string" || !isWireGuardKey(serverPublicKey)) {
    return bad("serverPublicKey must be a WireGuard key");
  }
  const ip = typeof address === "string" ? (address.split("/")[0] ?? "") : "";
  if (parseIpv4(ip) === null) return bad("address must be an IPv4 address");
  if (typeof gateway !== "string" || parseIpv4(gateway) === null) return bad("gateway");
  if (typeof allowedIps !== "string" || parseAddressPool(allowedIps) === null) {
    return bad("allowedIps must be an IPv4 CIDR");
  }
  const m = typeof mtu === "number" ? mtu : 1420;
  return {
    ok: true,
    value: { endpoint, serverPublicKey, address: ip, gateway, allowedIps, mtu: m },
  };
}

/**
 * A wg-quick configuration for the requester. The result contains the private key: write it
 * to a 0600 file, never to a log.
 */
export function renderWgQuickConfig(config: WireGuardClientConfig, privateKey: string): string {
  return [
    "[Interface]",
    `PrivateKey = ${privateKey}`,
    `Address = ${config.address}/32`,
    `MTU = ${config.mtu}`,
    "",
    "[Peer]",
    `PublicKey = ${config.serverPublicKey}`,
    `Endpoint = ${config.endpoint}`,
    `AllowedIPs = ${config.allowedIps}`,
    "PersistentKeepalive = 25",
    "",
  ].join("\n");
}
