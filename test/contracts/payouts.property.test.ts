/**
 * Property tests on chain: for random deposits and payments both ways, closed cooperatively or
 * unilaterally with any mix of stale and fresh proofs, the payouts always sum to the deposits and
 * equal what the latest proofs entitle each side to.
 */

import type { HDNodeWallet } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClosingArg, deployFixture, type Fixture, openChannel } from "../helpers/chain.ts";

const U256 = 2n ** 256n - 1n;
let f: Fixture;
let addr: string;
let salt = 1n;

beforeAll(async () => {
  f = await deployFixture({ minSettleWindow: 10, maxSettleWindow: 10 });
  addr = await f.channels.getAddress();
  for (const w of [f.alice, f.bob]) await (await f.token.connect(w).approve(addr, U256)).wait();
});
afterAll(() => f.connection.close());

/** The reference: A's deposit minus what it sent plus what it received, clamped. */
function referencePayouts(dA: bigint, dB: bigint, sA: bigint, sB: bigint): [bigint, bigint] {
  const total = dA + dB;
  let a = dA - sA + sB;
  if (a < 0n) a = 0n;
  if (a > total) a = total;
  return [a, total - a];
}

describe("computePayouts", () => {
  it("conserves the deposits and matches the reference for any amounts", async () => {
    const amount = fc.bigInt({ min: 0n, max: 2n ** 112n - 1n });
    const sent = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 113n }),
      fc.bigInt({ min: 0n, max: U256 }),
    );
    await fc.assert(
      fc.asyncProperty(amount, amount, sent, sent, async (dA, dB, sA, sB) => {
        const [pA, pB] = await f.channels.computePayouts(dA, dB, sA, sB);
        expect(pA + pB).toBe(dA + dB);
        expect([pA, pB]).toEqual(referencePayouts(dA, dB, sA, sB));
      }),
      { numRuns: 150 },
    );
  });
});

type Step =
  | { kind: "deposit"; forB: boolean; amount: bigint }
  | { kind: "pay"; fromB: boolean; amount: bigint };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("deposit" as const),
    forB: fc.boolean(),
    amount: fc.bigInt({ min: 1n, max: 50n }),
  }),
  fc.record({
    kind: fc.constant("pay" as const),
    fromB: fc.boolean(),
    amount: fc.bigInt({ min: 1n, max: 40n }),
  }),
);

describe("a channel's life", () => {
  it("pays out exactly what the latest proofs say, whatever stale proofs are thrown in", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 0n, max: 100n }),
        fc.array(stepArb, { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 5 }),
        async (initial, steps, cooperative, closerIsA, staleSubmissions) => {
          const { id, p } = await openChannel(f, f.alice, f.bob, salt++, initial, 10);
          let [dA, dB] = [initial, 0n];
          const proofs: { A: [bigint, bigint][]; B: [bigint, bigint][] } = { A: [], B: [] };
          let [sA, sB] = [0n, 0n];
          for (const s of steps) {
            if (s.kind === "deposit") {
              await (
                await f.channels.connect(s.forB ? f.bob : f.alice).deposit(id, s.forB, s.amount)
              ).wait();
              if (s.forB) dB += s.amount;
              else dA += s.amount;
            } else {
              // Off chain a payment is only made when the payer's balance covers it.
              const available = s.fromB ? dB + sA - sB : dA + sB - sA;
              if (available < s.amount) continue;
              if (s.fromB) {
                sB += s.amount;
                proofs.B.push([BigInt(proofs.B.length + 1), sB]);
              } else {
                sA += s.amount;
                proofs.A.push([BigInt(proofs.A.length + 1), sA]);
              }
            }
          }
          const signer = (ofB: boolean): HDNodeWallet => (ofB ? f.bob : f.alice);
          const sign = (ofB: boolean, [n, t]: [bigint, bigint]) =>
            f.signProof(signer(ofB), id, n, t, n % 2n === 0n);
          const [expA, expB] = referencePayouts(dA, dB, sA, sB);
          const before = await Promise.all(
            [f.alice, f.bob].map((w) => f.token.balanceOf(w.address)),
          );
          if (cooperative) {
            await (
              await f.channels.cooperativeClose(
                p,
                expA,
                expB,
                f.signSettlement(f.alice, id, expA, expB),
                f.signSettlement(f.bob, id, expA, expB),
              )
            ).wait();
          } else {
            // The closer submits the partner's proof: any of them, stale or latest, or none.
            const partnerIsB = closerIsA;
            const partnerProofs = partnerIsB ? proofs.B : proofs.A;
            const pick = partnerProofs.length
              ? partnerProofs[staleSubmissions.length % partnerProofs.length]!
              : undefined;
            const closer = closerIsA ? f.alice : f.bob;
            await (
              await f.channels
                .connect(closer)
                .close(p, pick?.[0] ?? 0n, pick?.[1] ?? 0n, pick ? sign(partnerIsB, pick) : "0x")
            ).wait();
            const c: ClosingArg = {
              a: p.a,
              b: p.b,
              depositA: dA,
              depositB: dB,
              nonceA: 0n,
              sentA: 0n,
              nonceB: 0n,
              sentB: 0n,
            };
            if (pick) {
              if (partnerIsB) [c.nonceB, c.sentB] = pick;
              else [c.nonceA, c.sentA] = pick;
            }
            // Anyone throws in proofs, stale or fresh, in any order; then each side's best one.
            const submissions: [boolean, [bigint, bigint]][] = staleSubmissions
              .map(([ofB, i]): [boolean, [bigint, bigint] | undefined] => [
                ofB,
                (ofB ? proofs.B : proofs.A)[i % Math.max(1, (ofB ? proofs.B : proofs.A).length)],
              ])
              .filter((x): x is [boolean, [bigint, bigint]] => x[1] !== undefined);
            if (proofs.A.length) submissions.push([false, proofs.A.at(-1)!]);
            if (proofs.B.length) submissions.push([true, proofs.B.at(-1)!]);
            for (const [ofB, proof] of submissions) {
              const [storedNonce, storedSent] = ofB ? [c.nonceB, c.sentB] : [c.nonceA, c.sentA];
              const newer =
                proof[1] > storedSent || (proof[1] === storedSent && proof[0] > storedNonce);
              const call = f.channels.updateProof(id, c, ofB, proof[0], proof[1], sign(ofB, proof));
              if (newer) {
                await (await call).wait();
                if (ofB) [c.nonceB, c.sentB] = proof;
                else [c.nonceA, c.sentA] = proof;
              } else {
                await expect(call).rejects.toThrow();
              }
            }
            expect([c.sentA, c.sentB]).toEqual([sA, sB]);
            await f.advance(10);
            await (await f.channels.settle(id, c)).wait();
          }
          const after = await Promise.all(
            [f.alice, f.bob].map((w) => f.token.balanceOf(w.address)),
          );
          expect(after[0]! - before[0]!).toBe(expA);
          expect(after[1]! - before[1]!).toBe(expB);
          expect(expA + expB).toBe(dA + dB);
          expect(await f.channels.channels(id)).toBe(0n);
        },
      ),
      { numRuns: 40 },
    );
  });
});
