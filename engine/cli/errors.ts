/** CLI errors: one line that says what is wrong and what to do, and an exit code. */
import {
  type ErrorDetails,
  isChainError,
  isSettlementError,
  jsonSafeDetails,
  shortMessageOf,
  TollwayError,
} from "../../channels/index.ts";

export type CliErrorCode =
  | "BAD_FLAG"
  | "BAD_CONFIG"
  | "NO_KEY"
  | "BAD_KEYSTORE"
  | "NO_DEPLOYMENT"
  | "NOT_FOUND"
  | "INSUFFICIENT_BALANCE"
  | "INSUFFICIENT_ALLOWANCE"
  | "NODE_RUNNING"
  | "NODE_REFUSED"
  | "INTERRUPTED"
  | "CHAIN";

/** A failure the CLI reports as one line (its `shortMessage`), and the exit code it ends with. */
export class CliError extends TollwayError<CliErrorCode> {
  readonly exitCode: number;

  /**
   * @param code - machine-readable code
   * @param message - the one line the user reads: what is wrong and what to do
   * @param opts - the exit code (default 2 for BAD_FLAG and BAD_CONFIG, else 1), details, cause
   */
  constructor(
    code: CliErrorCode,
    message: string,
    opts: { exitCode?: number; details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(code, message, { details: opts.details, cause: opts.cause });
    this.name = "CliError";
    this.exitCode = opts.exitCode ?? (code === "BAD_FLAG" || code === "BAD_CONFIG" ? 2 : 1);
  }
}

/**
 * A refusal of the settlement backend as the chain error behind it, when it has one: the CLI
 * words and codes a revert as it always has.
 */
function chainCause(err: unknown): unknown {
  return isSettlementError(err) && isChainError(err.cause) ? err.cause : err;
}

/** The one line a user sees for any error, with advice where there is some. */
export function explain(error: unknown, rpc?: string): string {
  const err = chainCause(error);
  if (isChainError(err)) {
    const short = err.shortMessage;
    switch (err.code) {
      case "RPC_UNREACHABLE":
        return `cannot reach the chain${rpc ? ` at ${rpc}` : ""} (${short}); check --rpc, or start one with \`tollway chain\``;
      case "WRONG_CHAIN":
        return `${short}; check --rpc and --chain-id`;
      case "NO_CONTRACT":
        return `${short}; check --channels, or deploy with \`tollway chain\``;
      case "INSUFFICIENT_TOKEN_BALANCE":
        return `${short}; fund the account with tokens first`;
      case "INSUFFICIENT_GAS_FUNDS":
        return `${short}; send it some ETH for gas`;
      case "CONTRACT_REVERT":
        if (err.details.errorName === "SettleWindowRunning") {
          return `the settle window runs until ${new Date(Number(err.details.errorArgs?.[0]) * 1000).toISOString()}; settle after that`;
        }
        if (err.details.errorName === "ChannelNotOpen")
          return `${short}: the channel is closing or settled`;
        return short;
      default:
        return short;
    }
  }
  return shortMessageOf(err);
}

/**
 * The machine-readable code of any error the CLI reports: a tollway error's own `code` (CliError,
 * ChainError, ChannelError, RelayError, … all extend `TollwayError`; a settlement refusal reports
 * its chain error's), else INTERNAL.
 */
export function errorCode(err: unknown): string {
  const code = (chainCause(err) as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{0,40}$/.test(code) ? code : "INTERNAL";
}

/**
 * The JSON-safe details of any error the CLI reports (bigints as strings; a settlement refusal's
 * are its chain error's), `{}` for a foreign one.
 */
export function errorDetails(error: unknown): ErrorDetails {
  const err = chainCause(error);
  return err instanceof TollwayError ? jsonSafeDetails(err.details) : {};
}
