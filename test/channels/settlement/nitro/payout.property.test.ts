/**
 * Tokens are conserved across the adjudicator: for any deposits and any outcome tollway signs,
 * concludeAndTransferAllAssets pays each destination what the outcome allocates (in order, while
 * the channel holds enough), and nothing else leaves or stays behind.
 */

import { type HDNodeWallet, MaxUint256 } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nitroChannelId } from "../../../../channels/settlement/nitro/encoding.ts";
import { signedVariablePart, signState } from "../../../../channels/settlement/nitro/signatures.ts";
import type { VariablePart } from "../../../../channels/settlement/nitro/types.ts";
import { mined, type NitroFixture, nitroFixture, signerOf } from "./fixture.ts";

const D = 10n ** 18n;
let f: NitroFixture;
let payees: HDNodeWallet[];

beforeAll(async () => {
  f = await nitroFixture();
  payees = [f.alice, f.bob, f.carol, f.stranger];
  for (const w of [f.alice, f.bob]) {
    await mined(f.token.connect(w).approve(f.nitro.adjudicator, MaxUint256));
  }
});
afterAll(() => f.connection.close());

/** Splits `total` into `n` amounts at `cuts` (fractions in [0, 1]). */
function split(total: bigint, cuts: readonly number[]): bigint[] {
  const points = cuts.map((c) => (total * BigInt(Math.round(c * 1e6))) / 1_000_000n);
  points.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const edges = [0n, ...points, total];
  return edges.slice(1).map((e, i) => e - edges[i]!);
}

const deposits = fc.tuple(
  fc.bigInt({ min: 0n, max: 50n * D }),
  fc.bigInt({ min: 0n, max: 50n * D }),
);
const allocation = fc.record({
  payee: fc.integer({ min: 0, max: 3 }),
  cut: fc.double({ min: 0, max: 1, noNaN: true }),
});

/** Funds a channel, concludes it with `payouts` and returns each payee's token change. */
async function run(a: bigint, b: bigint, payouts: readonly (readonly [HDNodeWallet, bigint])[]) {
  const fp = f.fixedPart(f.alice, f.bob);
  const id = nitroChannelId(fp);
  const held = async () => f.token.balanceOf(f.nitro.adjudicator);
  const before = await Promise.all(payees.map((w) => f.token.balanceOf(w.address)));
  const heldBefore = await held();
  if (a > 0n) await mined(f.as(f.alice).deposit(f.tokenAddress, id, 0n, a));
  if (b > 0n) await mined(f.as(f.bob).deposit(f.tokenAddress, id, a, b));
  const v: VariablePart = {
    outcome: f.erc20Outcome(payouts),
    appData: "0x",
    turnNum: 1,
    isFinal: true,
  };
  const sigs = [f.alice, f.bob].map((w) => signState(signerOf(w), fp, v));
  await mined(f.as(f.carol).concludeAndTransferAllAssets(fp, signedVariablePart(v, sigs)));
  const after = await Promise.all(payees.map((w) => f.token.balanceOf(w.address)));
  return {
    change: after.map((x, i) => x - before[i]!),
    heldChange: (await held()) - heldBefore,
    left: (await f.adjudicator.holdings(f.tokenAddress, id)) as bigint,
  };
}

describe("concludeAndTransferAllAssets conserves tokens", () => {
  it("pays exactly an outcome that allocates the deposits, to any payees in any split", async () => {
    await fc.assert(
      fc.asyncProperty(
        deposits,
        fc.array(allocation, { minLength: 1, maxLength: 4 }),
        async ([a, b], allocs) => {
          const amounts = split(
            a + b,
            allocs.slice(1).map((x) => x.cut),
          );
          const payouts = allocs.map((x, i) => [payees[x.payee]!, amounts[i]!] as const);
          const { change, heldChange, left } = await run(a, b, payouts);
          const expected = payees.map(
            (w) =>
              payouts.filter(([p]) => p === w).reduce((s, [, amt]) => s + amt, 0n) -
              (w === f.alice ? a : w === f.bob ? b : 0n),
          );
          expect(change).toEqual(expected);
          expect(change.reduce((s, x) => s + x, 0n)).toBe(0n);
          expect(heldChange).toBe(0n);
          expect(left).toBe(0n);
        },
      ),
      { numRuns: 10 },
    );
  });

  it("pays an outcome that allocates more than is held in order, and never more than is held", async () => {
    await fc.assert(
      fc.asyncProperty(
        deposits.filter(([a, b]) => a + b > 0n),
        fc.array(
          fc.record({
            payee: fc.integer({ min: 0, max: 3 }),
            amount: fc.bigInt({ min: 0n, max: 40n * D }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        async ([a, b], allocs) => {
          const payouts = allocs.map((x) => [payees[x.payee]!, x.amount] as const);
          const { change, heldChange, left } = await run(a, b, payouts);
          let surplus = a + b;
          const paid = payouts.map(([, amount]) => {
            // What the channel still holds caps each payout (bigints: no Math.min).
            let p = amount;
            if (p > surplus) p = surplus;
            surplus -= p;
            return p;
          });
          const expected = payees.map(
            (w) =>
              payouts.reduce((s, [p], i) => (p === w ? s + paid[i]! : s), 0n) -
              (w === f.alice ? a : w === f.bob ? b : 0n),
          );
          expect(change).toEqual(expected);
          // What was not allocated stays held against the channel; nothing is created.
          expect(left).toBe(surplus);
          expect(heldChange).toBe(surplus);
          expect(change.reduce((s, x) => s + x, 0n) + heldChange).toBe(0n);
        },
      ),
      { numRuns: 8 },
    );
  });
});
