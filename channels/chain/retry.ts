/** Retries with exponential backoff for transient RPC failures. */
import { isError } from "ethers";
import { ChainError, isRpcOutage } from "./errors.ts";

/**
 * How often and how patiently to retry. With the RPC's per-call timeout `t`, a call that never
 * gets an answer fails after at most `attempts × t` plus the backoff delays in between.
 */
export interface RetryPolicy {
  /** Attempts in all, including the first. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 2_000 };

const TRANSIENT_SYSCALL =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|fetch failed/i;

/** A network fault or an overloaded node: worth another try. A revert or a bad argument is not. */
export function isTransient(err: unknown): boolean {
  // Our own transport's verdict is final: a timeout or a lost connection is worth a retry,
  // a garbage answer or a revert is not.
  if (err instanceof ChainError) return isRpcOutage(err);
  if (isError(err, "NETWORK_ERROR") || isError(err, "TIMEOUT") || isError(err, "SERVER_ERROR"))
    return true;
  if (
    isError(err, "CALL_EXCEPTION") ||
    isError(err, "INVALID_ARGUMENT") ||
    isError(err, "INSUFFICIENT_FUNDS")
  ) {
    return false;
  }
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; error?: unknown } | null;
  if (!e) return false;
  if (e.code === -32005 || e.code === 429) return true; // rate limited
  if (typeof e.message === "string" && TRANSIENT_SYSCALL.test(e.message)) return true;
  if (typeof e.code === "string" && TRANSIENT_SYSCALL.test(e.code)) return true;
  // ethers wraps what a provider threw as `error` (JSON-RPC) or `cause`.
  for (const inner of [e.error, e.cause]) {
    if (inner !== undefined && inner !== err && isTransient(inner)) return true;
  }
  return false;
}

/** Runs `fn`, retrying transient failures with backoff; other failures are thrown at once. */
export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (attempt: number, err: unknown) => void,
): Promise<T> {
  let delay = policy.baseDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= policy.attempts || !isTransient(err)) throw err;
      onRetry?.(attempt, err);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(policy.maxDelayMs, delay * 2);
    }
  }
}
