/**
 * Properties of the batch-winner rule: one winner per channel, the newest by the contract's
 * order; a stale proof never wins; equal proofs keep the first.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchWinners, compareProofs } from "../../channels/index.ts";
import type { BalanceProof } from "../../channels/types.ts";
import { channelIdOf } from "./helpers.ts";

// Few channels and small values, so that batches hold many proofs per channel and many ties.
const proofArb = fc.record({
  channel: fc.nat({ max: 3 }),
  nonce: fc.bigInt({ min: 0n, max: 6n }),
  transferred: fc.bigInt({ min: 0n, max: 6n }),
});

const batchArb = fc.array(proofArb, { maxLength: 40 }).map((rows) => ({
  proofs: rows.map(
    (r): BalanceProof => ({
      channelId: channelIdOf(r.channel),
      nonce: r.nonce,
      transferred: r.transferred,
    }),
  ),
  channels: rows.map((r) => r.channel),
}));

describe("batchWinners", () => {
  it("picks one winner per channel, in the order of its first proof, and counts its proofs", () => {
    fc.assert(
      fc.property(batchArb, ({ proofs, channels }) => {
        const { index, count } = batchWinners(proofs, channels);
        const firsts = [...new Set(channels)];
        expect(index.map((i) => channels[i])).toEqual(firsts);
        expect(count).toEqual(firsts.map((c) => channels.filter((x) => x === c).length));
        expect(count.reduce((a, b) => a + b, 0)).toBe(proofs.length);
      }),
    );
  });

  it("the winner is the newest of its channel by compareProofs, the first of equal ones", () => {
    fc.assert(
      fc.property(batchArb, ({ proofs, channels }) => {
        const { index } = batchWinners(proofs, channels);
        for (const w of index) {
          for (let i = 0; i < proofs.length; i++) {
            if (channels[i] !== channels[w]) continue;
            const order = compareProofs(proofs[i]!, proofs[w]!);
            expect(order).toBeLessThanOrEqual(0);
            if (order === 0) expect(i).toBeGreaterThanOrEqual(w);
          }
        }
      }),
    );
  });

  it("a stale proof never wins: a proof beaten by another of its channel is no winner", () => {
    fc.assert(
      fc.property(batchArb, ({ proofs, channels }) => {
        const winners = new Set(batchWinners(proofs, channels).index);
        for (let i = 0; i < proofs.length; i++) {
          const beaten = proofs.some(
            (p, j) => channels[j] === channels[i] && compareProofs(p, proofs[i]!) > 0,
          );
          if (beaten) expect(winners.has(i)).toBe(false);
        }
      }),
    );
  });

  it("keys channels by identity, so entries of the caller serve as keys", () => {
    const a = { name: "a" };
    const b = { name: "b" };
    const id = channelIdOf(1);
    const proofs = [
      { channelId: id, nonce: 1n, transferred: 5n },
      { channelId: id, nonce: 2n, transferred: 4n },
      { channelId: id, nonce: 3n, transferred: 5n },
    ];
    expect(batchWinners(proofs, [a, b, a])).toEqual({ index: [2, 1], count: [2, 1] });
    expect(batchWinners([], [])).toEqual({ index: [], count: [] });
  });
});
