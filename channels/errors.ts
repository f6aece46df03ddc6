/** Error codes of the channels layer, the error class that carries them, and the one result type. */
import { type ErrorDetails, TollwayError } from "./base-error.ts";
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

/**
 * A rejected input: a value, never an exception (see STYLE.md, "Errors"). One shape for every
 * layer; each fixes `C` to its own code union (`RelayResult`, `MarketResult`). Validators that run
 * per frame or per proof return it, so a refusal costs one small object and no stack trace.
 */
export interface Rejection<C extends string = ChannelErrorCode> {
  readonly ok: false;
  readonly code: C;
  readonly reason: string;
  /** The values that explain it (which setting, which flag), where a caller needs them. */
  readonly details?: ErrorDetails;
}

/** `{ ok: true, value }` or a `Rejection` with a code of `C`. */
export type Result<T, C extends string = ChannelErrorCode> =
  | { readonly ok: true; readonly value: T }
  | Rejection<C>;

/** Builds a `Rejection`; `details` only when given, so hot paths build one shape of object. */
export function reject<C extends string>(
  code: C,
  reason: string,
  details?: ErrorDetails,
): Rejection<C> {
  return details === undefined ? { ok: false, code, reason } : { ok: false, code, reason, details };
}

/**
 * A thrown error of the channels layer, for failures of the shell (store, pool, backends) and for
 * programming errors; peer and chain input are rejected with values instead.
 */
export class ChannelError extends TollwayError<ChannelErrorCode> {
  /**
   * @param code - machine-readable code
   * @param message - short human-readable message
   * @param details - the facts that matter (paths, keys, versions)
   * @param cause - the underlying error, if any
   */
  constructor(code: ChannelErrorCode, message: string, details?: ErrorDetails, cause?: unknown) {
    super(code, message, { details, cause });
    this.name = "ChannelError";
  }
}

/** True when `err` is a `ChannelError`, optionally with the given code. */
export function isChannelError(err: unknown, code?: ChannelErrorCode): err is ChannelError {
  return err instanceof ChannelError && (code === undefined || err.code === code);
}
