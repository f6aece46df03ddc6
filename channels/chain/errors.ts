/** Errors of the on-chain client: one code union, the contract's custom error named where known. */
import { TollwayError, type TollwayErrorOptions } from "../base-error.ts";

/** Every machine-readable code the chain client throws. */
export type ChainErrorCode =
  /** No connection to the RPC, or it answered that it is down or overloaded (HTTP 429/5xx). */
  | "RPC_UNREACHABLE"
  /** The RPC took a connection or a request and did not answer within the per-call timeout. */
  | "RPC_TIMEOUT"
  /** The RPC answered with something that is not a JSON-RPC response (or one too large). */
  | "RPC_BAD_RESPONSE"
  | "WRONG_CHAIN"
  | "NO_CONTRACT"
  | "ARTIFACTS_MISSING"
  | "CONTRACT_REVERT"
  | "INSUFFICIENT_TOKEN_BALANCE"
  | "INSUFFICIENT_ALLOWANCE"
  | "INSUFFICIENT_GAS_FUNDS"
  | "TX_REVERTED"
  /** A broadcast transaction was not included (with its confirmations) within the wait limit. */
  | "TX_NOT_MINED"
  | "EVENT_MISSING";

/**
 * What a `ChainError` says besides its message, for logs and callers: an RPC failure names the
 * `url` (credentials redacted) and `method`; a revert names the contract's custom error.
 */
export interface ChainErrorDetails {
  readonly url?: string;
  readonly method?: string;
  /** The contract's custom error (`SettleWindowRunning`, …), for CONTRACT_REVERT. */
  readonly errorName?: string;
  /** Its decoded arguments, in declaration order. */
  readonly errorArgs?: readonly unknown[];
  readonly [key: string]: unknown;
}

/** A failure talking to the chain; `details` says what it was about. */
export class ChainError extends TollwayError<ChainErrorCode, ChainErrorDetails> {
  /**
   * @param code - machine-readable code
   * @param message - short human-readable message
   * @param options - the details (`url`, `method`, `errorName`, …) and the cause
   */
  constructor(
    code: ChainErrorCode,
    message: string,
    options: TollwayErrorOptions<ChainErrorDetails> = {},
  ) {
    super(code, message, options);
    this.name = "ChainError";
  }
}

/** True for a `ChainError` with `code` (and, when given, the contract error `errorName`). */
export function isChainError(
  err: unknown,
  code?: ChainErrorCode,
  errorName?: string,
): err is ChainError {
  return (
    err instanceof ChainError &&
    (code === undefined || err.code === code) &&
    (errorName === undefined || err.details.errorName === errorName)
  );
}

/** True for the RPC failures worth another try: no connection, no answer in time. */
export function isRpcOutage(err: unknown): boolean {
  return isChainError(err, "RPC_UNREACHABLE") || isChainError(err, "RPC_TIMEOUT");
}
