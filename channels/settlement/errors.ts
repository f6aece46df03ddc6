/** Why a settlement backend refused an effect or a reference: one code union for every backend. */
import { type ErrorDetails, TollwayError } from "../base-error.ts";
import type { Result } from "../errors.ts";

/** Every machine-readable code a settlement backend reports. */
export type SettlementErrorCode =
  /** The channel is not open (never opened, closing, or settled). */
  | "CHANNEL_NOT_OPEN"
  /** The channel is not in its dispute window (still open, or already settled). */
  | "CHANNEL_NOT_CLOSING"
  /** No open channel has this reference or id. */
  | "CHANNEL_UNKNOWN"
  /** A reference that this backend did not make (malformed). */
  | "REF_INVALID"
  | "NOT_PARTICIPANT"
  /** A proof or settlement not signed by whom it must be, or for another channel. */
  | "INVALID_SIGNATURE"
  /** The proof is not better than the one the chain holds for that side. */
  | "STALE_PROOF"
  /** The committed state given is not what the chain holds. */
  | "CLOSING_STATE_MISMATCH"
  /** Settle before the window ended. */
  | "WINDOW_RUNNING"
  /** Update after the window ended. */
  | "WINDOW_OVER"
  /** Cooperative payouts that do not sum to the deposits. */
  | "PAYOUTS_MISMATCH"
  | "INSUFFICIENT_FUNDS"
  /** An argument the backend does not allow (settle window, partner, amount). */
  | "INVALID_ARGUMENT";

/**
 * A refusal by the settlement backend (a revert, for a chain). Failures to reach the chain are
 * not refusals: they reach the caller as the backend's own errors (`ChainError` RPC_*).
 */
export class SettlementError extends TollwayError<SettlementErrorCode> {
  /**
   * @param code - why the backend refused
   * @param message - short human-readable message
   * @param options - the values that explain it, and the revert or error behind it
   */
  constructor(
    code: SettlementErrorCode,
    message: string,
    options: { readonly details?: ErrorDetails; readonly cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = "SettlementError";
  }
}

/** True for a `SettlementError` (with `code`, when given). */
export function isSettlementError(
  err: unknown,
  code?: SettlementErrorCode,
): err is SettlementError {
  return err instanceof SettlementError && (code === undefined || err.code === code);
}

/** An outcome that a peer's input can make fail: a value, not an exception. */
export type SettlementResult<T> = Result<T, SettlementErrorCode>;
