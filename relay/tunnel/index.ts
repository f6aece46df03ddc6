/** Tunnel drivers: the shared interface, the budget extension, the metered proxy, WireGuard and QoS lanes. */
export type {
  TunnelConfig,
  TunnelDriver,
  TunnelKind,
  TunnelRequest,
  TunnelUsage,
} from "./driver.ts";
export type { MeteredTunnelDriver, TunnelLimits } from "./metered.ts";
export { isMetered } from "./metered.ts";
export type { ProxyDriverOptions } from "./proxy/index.ts";
export { createProxyDriver } from "./proxy/index.ts";
export type { QosDriverOptions } from "./qos/index.ts";
export { createQosDriver } from "./qos/index.ts";
export type { SystemTunnelErrorCode } from "./system/index.ts";
export { isSystemTunnelError, SystemTunnelError } from "./system/index.ts";
export type { WireGuardClientConfig, WireGuardDriverOptions } from "./wireguard/index.ts";
export {
  bringUpWireGuardClient,
  createWireGuardDriver,
  renderWgQuickConfig,
} from "./wireguard/index.ts";
