/** One RPC call with retries, its failure turned into a `ChainError` that says what was tried. */
import { isError } from "ethers";
import { shortMessageOf } from "../base-error.ts";
import { contractsInterface } from "./artifacts.ts";
import { ChainError } from "./errors.ts";
import { type RetryPolicy, withRetry } from "./retry.ts";

/**
 * Runs `fn` (one or a few RPC requests) with retries; a failure becomes a `ChainError` whose
 * message starts with `what` and, for RPC failures, says how many tries were made.
 * @throws ChainError RPC_TIMEOUT, RPC_UNREACHABLE, RPC_BAD_RESPONSE, CONTRACT_REVERT,
 *   INSUFFICIENT_GAS_FUNDS
 */
export async function rpcCall<T>(
  what: string,
  fn: () => Promise<T>,
  retry: RetryPolicy,
): Promise<T> {
  let tries = 1;
  try {
    return await withRetry(fn, retry, () => {
      tries++;
    });
  } catch (err) {
    throw toChainError(what, err, tries);
  }
}

function toChainError(what: string, err: unknown, tries: number): ChainError {
  if (err instanceof ChainError) {
    if (!err.code.startsWith("RPC_")) return err;
    const times = tries > 1 ? ` (tried ${tries} times)` : "";
    return new ChainError(err.code, `${what}: ${err.shortMessage}${times}`, {
      details: { ...err.details, tries },
      cause: err,
    });
  }
  const data = revertData(err);
  if (data) {
    const parsed = (() => {
      try {
        return contractsInterface().parseError(data);
      } catch {
        // Not one of our contracts' errors: fall through to the generic revert below.
        return null;
      }
    })();
    if (parsed) {
      return new ChainError(
        "CONTRACT_REVERT",
        `${what} reverted with ${parsed.name}(${parsed.args.join(", ")})`,
        {
          details: { errorName: parsed.name, errorArgs: parsed.args.toArray() },
          cause: err,
        },
      );
    }
  }
  if (isError(err, "CALL_EXCEPTION")) {
    return new ChainError(
      "CONTRACT_REVERT",
      `${what} reverted${err.reason ? `: ${err.reason}` : ""}`,
      { cause: err },
    );
  }
  // Nodes report a short gas balance as JSON-RPC -32000 with no code of its own (geth: "insufficient
  // funds", Hardhat: "doesn't have enough funds"); ethers maps only
  // some of them to INSUFFICIENT_FUNDS, so the node's own words are the one signal left.
  if (
    isError(err, "INSUFFICIENT_FUNDS") ||
    /insufficient funds|n't have enough funds/i.test(nestedMessages(err))
  ) {
    return new ChainError("INSUFFICIENT_GAS_FUNDS", `${what}: the account cannot pay for gas`, {
      cause: err,
    });
  }
  // ethers could not read what the node answered (a wrong type where a block or a number belongs).
  if (isError(err, "BAD_DATA")) {
    return new ChainError("RPC_BAD_RESPONSE", `${what}: the RPC's answer makes no sense`, {
      cause: err,
    });
  }
  return new ChainError("RPC_UNREACHABLE", `${what} failed: ${shortMessageOf(err)}`, {
    cause: err,
  });
}

function nestedMessages(err: unknown): string {
  const parts: string[] = [];
  let e = err as Record<string, unknown> | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof e.message === "string") parts.push(e.message);
    e = (e.error ?? e.info ?? e.cause) as Record<string, unknown> | undefined;
  }
  return parts.join(" | ");
}

function revertData(err: unknown): string | undefined {
  let e = err as Record<string, unknown> | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof e.data === "string" && e.data.startsWith("0x") && e.data.length >= 10) return e.data;
    e = (e.error ?? e.info ?? e.cause) as Record<string, unknown> | undefined;
  }
  return undefined;
}
