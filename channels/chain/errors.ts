/** Errors of the on-chain client: one code union, the contract's custom error named where known. */

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

/** What a `ChainError` may say besides its message, for logs and callers (e.g. `url`, `method`). */
export type ChainErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * A failure talking to the chain. `errorName`/`errorArgs` name the contract's custom error;
 * `details` carries what the failure was about (an RPC failure names the `url` and `method`).
 */
export class ChainError extends Error {
  readonly code: ChainErrorCode;
  readonly errorName: string | undefined;
  readonly errorArgs: readonly unknown[];
  readonly details: ChainErrorDetails;

  constructor(
    code: ChainErrorCode,
    message: string,
    opts: {
      errorName?: string;
      errorArgs?: readonly unknown[];
      details?: ChainErrorDetails;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "ChainError";
    this.code = code;
    this.errorName = opts.errorName;
    this.errorArgs = opts.errorArgs ?? [];
    this.details = opts.details ?? {};
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
    (errorName === undefined || err.errorName === errorName)
  );
}

/** True for the RPC failures worth another try: no connection, no answer in time. */
export function isRpcOutage(err: unknown): boolean {
  return isChainError(err, "RPC_UNREACHABLE") || isChainError(err, "RPC_TIMEOUT");
}
