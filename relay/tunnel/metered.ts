/**
 * An optional extension of `TunnelDriver` for drivers whose data plane can enforce a budget
 * (the proxy does; WireGuard and tc may later). The provider hands such a driver the unit budget
 * that the paid amount plus the credit covers, so that the provider's exposure stays within the
 * credit limit even between two counter readings; drivers without it are torn down by the
 * session's deadline alone. Kept apart from driver.ts so that the base interface is unchanged.
 */
import type { TunnelDriver } from "./driver.ts";

/** What a session's tunnel may still carry. */
export interface TunnelLimits {
  /** Whether new connections/flows are admitted (the session is paid up). */
  readonly admit: boolean;
  /** Total bytes (in + out) the tunnel may carry since activation; null: unlimited. */
  readonly maxBytes: number | null;
  /** Total packets (in + out); null: unlimited. */
  readonly maxPackets: number | null;
}

/** A driver that enforces `TunnelLimits`. */
export interface MeteredTunnelDriver extends TunnelDriver {
  /** Sets a session's limits (unknown sessions are ignored). */
  setLimits(sessionId: string, limits: TunnelLimits): void;
}

/** True when the driver enforces limits. */
export function isMetered(driver: TunnelDriver): driver is MeteredTunnelDriver {
  return typeof (driver as Partial<MeteredTunnelDriver>).setLimits === "function";
}
