/** Error codes of the channels layer, the error class that carries them, and the result type. */
import type { ChainErrorCode } from "./chain/errors.ts";

/**
 * Every machine-readable code the channels layer can report, as a rejection value or a thrown
 * `ChannelError`. Tests and callers match on these, never on message text.
 */
export type ChannelErrorCode =
  // signatures (same codes on every secp256k1 backend and verification path)
  | "SIGNATURE_LENGTH"
  | "SIGNATURE_BAD_V"
  | "SIGNATURE_HIGH_S"
  | "SIGNATURE_RANGE"
  | "SIGNER_MISMATCH"
  // balance proofs received from the partner
  | "CHANNEL_MISMATCH"
  | "DOMAIN_MISMATCH"
  | "VALUE_OUT_OF_RANGE"
  | "NONCE_NOT_INCREASING"
  | "TRANSFERRED_DECREASED"
  | "BALANCE_NEGATIVE"
  | "CHANNEL_NOT_OPEN"
  | "CHANNEL_CLOSED"
  | "CHANNEL_FROZEN"
  // cooperative settlement
  | "SETTLEMENT_SUM_MISMATCH"
  | "SETTLEMENT_PAYOUT_TOO_LOW"
  | "SETTLEMENT_UNEXPECTED"
  // local actions
  | "AMOUNT_INVALID"
  | "INSUFFICIENT_BALANCE"
  | "SIGNER_NOT_PARTICIPANT"
  | "SETTLE_TOO_EARLY"
  | "CHANNEL_NOT_CLOSED"
  // chain events
  | "CHAIN_EVENT_UNEXPECTED"
  // durable store
  | "STORE_CORRUPT"
  | "STORE_FOREIGN"
  | "STORE_VERSION_UNSUPPORTED"
  | "STORE_LOCKED"
  | "STORE_OPEN_FAILED"
  | "STORE_WRITE_FAILED"
  | "STORE_CLOSED"
  // crypto backends and the worker pool
  | "BACKEND_UNAVAILABLE"
  | "POOL_CLOSED"
  | "WORKER_FAILED"
  // the on-chain client (thrown as ChainError, which also names the contract's custom error)
  | ChainErrorCode;

/** A rejected input: a value, never an exception (see STYLE.md, "Errors"). */
export interface Rejection<C extends ChannelErrorCode = ChannelErrorCode> {
  readonly ok: false;
  readonly code: C;
  readonly reason: string;
}

/** `{ ok: true, value }` or a `Rejection`. */
export type Result<T, C extends ChannelErrorCode = ChannelErrorCode> =
  | { readonly ok: true; readonly value: T }
  | Rejection<C>;

/** Builds a `Rejection`. */
export function reject<C extends ChannelErrorCode>(code: C, reason: string): Rejection<C> {
  return { ok: false, code, reason };
}

/**
 * A thrown error of the channels layer, for failures of the shell (store, pool, backends) and for
 * programming errors; peer and chain input are rejected with values instead.
 */
export class ChannelError extends Error {
  readonly code: ChannelErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code - machine-readable code
   * @param message - short human-readable message
   * @param details - the facts that matter (paths, keys, versions)
   * @param cause - the underlying error, if any
   */
  constructor(
    code: ChannelErrorCode,
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ChannelError";
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a `ChannelError`, optionally with the given code. */
export function isChannelError(err: unknown, code?: ChannelErrorCode): err is ChannelError {
  return err instanceof ChannelError && (code === undefined || err.code === code);
}
