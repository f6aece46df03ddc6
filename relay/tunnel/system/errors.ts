/**
 * Error codes of the system tunnel drivers (`wireguard`, `qos`) and the error that carries them.
 * The provider node maps them onto its own codes (`TUNNEL_FAILED`, `TUNNEL_UNAVAILABLE`).
 */
import { type ErrorDetails, TollwayError } from "../../../channels/index.ts";

/** Every machine-readable code a system tunnel driver can throw. */
export type SystemTunnelErrorCode =
  /** A command exited non-zero; `details.command` and `details.stderr` say which and why. */
  | "COMMAND_FAILED"
  /** A command could not be started (not installed, not on PATH). */
  | "COMMAND_MISSING"
  /** The requester's tunnel parameters are malformed. */
  | "PARAMS_INVALID"
  /** The session already has a tunnel. */
  | "SESSION_EXISTS"
  /** No address (WireGuard) or class id (QoS) left. */
  | "POOL_EXHAUSTED"
  /** A peer key is already in use by another session. */
  | "PEER_IN_USE"
  /** The driver was closed. */
  | "DRIVER_CLOSED"
  /** The system lacks what the driver needs (no WireGuard at all, no HTB). */
  | "UNSUPPORTED"
  /** A userspace WireGuard's UAPI socket answered an error (`details.errno`) or no answer in time. */
  | "UAPI_ERROR"
  /** A UAPI answer that cannot be read (`details.line` says which kind of line). */
  | "UAPI_MALFORMED";

/** A thrown system tunnel error: a code, a short message, and the details that matter. */
export class SystemTunnelError extends TollwayError<SystemTunnelErrorCode> {
  /**
   * @param code - machine-readable code
   * @param message - short message (never contains key material)
   * @param details - the command, its stderr and exit code, the session
   * @param cause - the underlying error
   */
  constructor(
    code: SystemTunnelErrorCode,
    message: string,
    details?: ErrorDetails,
    cause?: unknown,
  ) {
    super(code, message, { details, cause });
    this.name = "SystemTunnelError";
  }
}

/** True when `err` is a `SystemTunnelError`, optionally with the given code. */
export function isSystemTunnelError(
  err: unknown,
  code?: SystemTunnelErrorCode,
): err is SystemTunnelError {
  return err instanceof SystemTunnelError && (code === undefined || err.code === code);
}
