/** How the embedded chain mines: on each transaction, or on a timer as a public chain does. */

/** The longest block time the embedded chain takes, in seconds (one hour). */
export const MAX_BLOCK_TIME_SECONDS = 3_600;

/** How the embedded chain mines. */
export interface EmbeddedChainOptions {
  /**
   * Mine a block every this many seconds, whether or not a transaction waits, and never on a
   * transaction alone (as a public chain does). Absent or 0: a block per transaction, at once.
   */
  readonly blockTimeSeconds?: number;
}

/**
 * Hardhat's `mining` network setting for `opts`.
 * @throws RangeError when `blockTimeSeconds` is not a whole number from 0 to {@link MAX_BLOCK_TIME_SECONDS}.
 */
export function miningConfig(opts: EmbeddedChainOptions): {
  readonly auto: boolean;
  readonly interval: number;
} {
  const blockTime = opts.blockTimeSeconds ?? 0;
  if (!Number.isInteger(blockTime) || blockTime < 0 || blockTime > MAX_BLOCK_TIME_SECONDS) {
    throw new RangeError(
      `blockTimeSeconds must be a whole number from 0 to ${MAX_BLOCK_TIME_SECONDS}, got ${blockTime}`,
    );
  }
  return blockTime > 0 ? { auto: false, interval: blockTime * 1_000 } : { auto: true, interval: 0 };
}
