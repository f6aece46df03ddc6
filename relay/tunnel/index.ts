/** Tunnel drivers: the shared interface, the budget extension, and the metered proxy. */
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
