/** CLI errors: one line that says what is wrong and what to do, and an exit code. */
import { isChainError, isSettlementError } from "../../channels/index.ts";

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

/** A failure the CLI reports as one line. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: number;
  constructor(
    code: CliErrorCode,
    message: string,
    opts: { exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "CliError";
    this.code = code;
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
  if (err instanceof CliError) return err.message;
  if (isChainError(err)) {
    switch (err.code) {
      case "RPC_UNREACHABLE":
        return `cannot reach the chain${rpc ? ` at ${rpc}` : ""} (${err.message}); check --rpc, or start one with \`tollway chain\``;
      case "WRONG_CHAIN":
        return `${err.message}; check --rpc and --chain-id`;
      case "NO_CONTRACT":
        return `${err.message}; check --channels, or deploy with \`tollway chain\``;
      case "INSUFFICIENT_TOKEN_BALANCE":
        return `${err.message}; fund the account with tokens first`;
      case "INSUFFICIENT_ALLOWANCE":
        return err.message;
      case "INSUFFICIENT_GAS_FUNDS":
        return `${err.message}; send it some ETH for gas`;
      case "CONTRACT_REVERT":
        if (err.errorName === "SettleWindowRunning") {
          return `the settle window runs until ${new Date(Number(err.errorArgs[0]) * 1000).toISOString()}; settle after that`;
        }
        if (err.errorName === "ChannelNotOpen")
          return `${err.message}: the channel is closing or settled`;
        return err.message;
      default:
        return err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * The machine-readable code of any error the CLI reports: a `CliError`'s or a library error's own
 * `code` (ChainError, ChannelError, RelayError all carry one; a settlement refusal reports its
 * chain error's), else INTERNAL.
 */
export function errorCode(err: unknown): string {
  const code = (chainCause(err) as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{0,40}$/.test(code) ? code : "INTERNAL";
}
