/**
 * Which proof of a verify batch is worth its signature check: per channel, only the one that
 * would win on chain. Proofs are cumulative, so once that one is valid it supersedes every other
 * proof of its channel in the batch; only when it is forged do the others still count.
 */

import { compareProofs } from "../proof-order.ts";
import type { BalanceProof } from "../types.ts";

/** The winner of each channel in a batch, in the order of the channel's first proof. */
export interface BatchWinners {
  /** The index of the channel's winning proof in the batch. */
  readonly index: number[];
  /** How many proofs of the batch the channel has, its winner included. */
  readonly count: number[];
}

/**
 * Picks each channel's winning proof of a batch: the newest by `compareProofs` (the contract's
 * order), the first of equal ones. A stale proof never wins over a newer one of its channel.
 * @param proofs - the batch's proofs
 * @param channels - the channel of each proof (same index); any key that is the same object or
 *   value for proofs of one channel (an id, or the caller's channel entry)
 * @example
 * const { index, count } = batchWinners(frames, entries); // verify frames[index[k]] only
 */
export function batchWinners<K>(
  proofs: readonly BalanceProof[],
  channels: readonly K[],
): BatchWinners {
  const slot = new Map<K, number>();
  const index: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < proofs.length; i++) {
    const channel = channels[i]!;
    const k = slot.get(channel);
    if (k === undefined) {
      slot.set(channel, index.length);
      index.push(i);
      count.push(1);
    } else {
      count[k]!++;
      if (compareProofs(proofs[i]!, proofs[index[k]!]!) > 0) index[k] = i;
    }
  }
  return { index, count };
}
