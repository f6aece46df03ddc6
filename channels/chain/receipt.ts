/**
 * Waits for a transaction's receipt by asking for it, block after block, with each request
 * retried and bounded. ethers' `TransactionResponse.wait` is not used: on a chain that mines on a
 * timer it leaves block and receipt listeners whose requests are still in flight when it
 * resolves; ethers calls them without handling their rejections, so destroying the provider
 * afterwards (as a CLI command does when it is done) crashed the process with "provider
 * destroyed; cancelled request".
 */
import type { Provider, TransactionReceipt } from "ethers";
import { ChainError } from "./errors.ts";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { rpcCall } from "./rpc-call.ts";

/** How {@link waitForReceipt} waits. */
export interface ReceiptWait {
  /** Blocks to wait after inclusion (1: the including block). */
  readonly confirmations?: number;
  /** Time between two looks at the chain (ms). */
  readonly pollIntervalMs?: number;
  /** Give up after this long with TX_NOT_MINED (ms). */
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
}

/** Time between two looks for a receipt, unless told otherwise (ms). */
export const DEFAULT_RECEIPT_POLL_MS = 500;

/** How long a transaction may take to be included, unless told otherwise (ms). */
export const DEFAULT_INCLUSION_TIMEOUT_MS = 5 * 60_000;

/**
 * The receipt of `hash` once it has `confirmations` blocks, whatever its status (a reverted
 * transaction has status 0; the caller decides what that means).
 * @throws ChainError TX_NOT_MINED after `timeoutMs`; RPC_TIMEOUT, RPC_UNREACHABLE or
 *   RPC_BAD_RESPONSE when a request fails past its retries.
 * @example const receipt = await waitForReceipt(provider, tx.hash, { what: "open" });
 */
export async function waitForReceipt(
  provider: Provider,
  hash: string,
  opts: ReceiptWait & { readonly what?: string } = {},
): Promise<TransactionReceipt> {
  const what = opts.what ?? "a transaction";
  const confirmations = opts.confirmations ?? 1;
  const pollMs = opts.pollIntervalMs ?? DEFAULT_RECEIPT_POLL_MS;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_INCLUSION_TIMEOUT_MS;
  const retry = opts.retry ?? DEFAULT_RETRY;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await rpcCall(
      `wait for ${what}`,
      () => provider.getTransactionReceipt(hash),
      retry,
    );
    if (receipt) {
      if (confirmations <= 1) return receipt;
      const head = await rpcCall("read the block number", () => provider.getBlockNumber(), retry);
      if (head - receipt.blockNumber + 1 >= confirmations) return receipt;
    }
    if (Date.now() + pollMs > deadline) {
      throw new ChainError(
        "TX_NOT_MINED",
        `${what} (${hash}) was not ${receipt ? "confirmed" : "included"} within ${Math.round(timeoutMs / 1000)} s`,
        { details: { hash, timeoutMs, confirmations } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
