/**
 * The `wireguard` tunnel driver (kernel WireGuard or wireguard-go, through `ip` and `wg`), the
 * requester's interface, and the pure pieces they share: address pool, dump parser, params.
 */
export type { AddressPool } from "./address-pool.ts";
export {
  allocateAddress,
  formatIpv4,
  inPool,
  parseAddressPool,
  parseIpv4,
} from "./address-pool.ts";
export type { WireGuardClientConfig } from "./client-config.ts";
export { parseWireGuardConfig, renderWgQuickConfig } from "./client-config.ts";
export type { WireGuardClient, WireGuardClientOptions } from "./client-interface.ts";
export { bringUpWireGuardClient } from "./client-interface.ts";
export type { WireGuardImplementation } from "./interface.ts";
export { createWireGuardInterface, deleteInterface, interfaceExists } from "./interface.ts";
export type { WireGuardKeyPair } from "./keys.ts";
export {
  generateWireGuardKeyPair,
  readKeyFile,
  wireGuardPublicKey,
  writeKeyFile,
} from "./keys.ts";
export type { ParamsResult, WireGuardParams } from "./params.ts";
export { isWireGuardKey, parseWireGuardParams } from "./params.ts";
export type { WgDump, WgInterfaceDump, WgPeerDump } from "./wg-dump.ts";
export { parseWgDump } from "./wg-dump.ts";
export type {
  WireGuardDriver,
  WireGuardDriverOptions,
  WireGuardPeerStats,
} from "./wireguard-driver.ts";
export { createWireGuardDriver, tunnelAddressOf } from "./wireguard-driver.ts";
