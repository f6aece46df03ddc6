/** Errors of the on-chain client: one code union, the contract's custom error named where known. */

/** Every machine-readable code the chain client throws. */
export type ChainErrorCode =
  | "RPC_UNREACHABLE"
  | "WRONG_CHAIN"
  | "NO_CONTRACT"
  | "ARTIFACTS_MISSING"
  | "CONTRACT_REVERT"
  | "INSUFFICIENT_TOKEN_BALANCE"
  | "INSUFFICIENT_ALLOWANCE"
  | "INSUFFICIENT_GAS_FUNDS"
  | "TX_REVERTED"
  | "EVENT_MISSING";

/** A failure talking to the chain. `errorName`/`errorArgs` name the contract's custom error. */
export class ChainError extends Error {
  readonly code: ChainErrorCode;
  readonly errorName: string | undefined;
  readonly errorArgs: readonly unknown[];

  constructor(
    code: ChainErrorCode,
    message: string,
    opts: { errorName?: string; errorArgs?: readonly unknown[]; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "ChainError";
    this.code = code;
    this.errorName = opts.errorName;
    this.errorArgs = opts.errorArgs ?? [];
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
