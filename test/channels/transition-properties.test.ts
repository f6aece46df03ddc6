/**
 * Properties of the state machine: a stale proof never wins off chain (on chain it is the dispute
 * machine's, tested in test/channels/watcher and test/channels/settlement), balances never go
 * negative whatever validly signed proofs arrive, tokens are conserved by the payout rule.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computePayouts } from "../../channels/settlement/committed.ts";
import { balanceOf } from "../../channels/state/balances.ts";
import type { ChannelState } from "../../channels/state/channel-state.ts";
import { transition } from "../../channels/state/transition.ts";
import { alice, channelIdOf, ctxA, ctxB, openPair, received, signed } from "./helpers.ts";

const id = channelIdOf(1);

describe("state machine properties", () => {
  it("a stale proof never wins: whatever the order, bob keeps the newest proof he accepted", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 20n }), { minLength: 1, maxLength: 12 }),
        fc.infiniteStream(fc.nat()),
        (steps, picks) => {
          // Alice signs proofs 1..n with growing totals, bob receives them in a random order.
          let total = 0n;
          const proofs = steps.map((s, i) => {
            total += s;
            return signed(alice, { channelId: id, nonce: BigInt(i + 1), transferred: total });
          });
          const order = [...proofs];
          const it2 = picks[Symbol.iterator]();
          for (let i = order.length - 1; i > 0; i--) {
            const j = it2.next().value! % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          let { b } = openPair(10_000n, 0n, id);
          let bestNonce = 0n;
          for (const p of order) {
            const prev = b;
            b = transition(b, received(p, alice.address), ctxB).state;
            if (p.proof.nonce > bestNonce) {
              bestNonce = p.proof.nonce;
              expect(b.received).toBe(p);
            } else {
              expect(b).toBe(prev);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("balances never go negative: validly signed proofs of any amount, payments of any amount", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 100n }),
        fc.bigInt({ min: 0n, max: 100n }),
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant("recv" as const),
              amount: fc.bigInt({ min: 0n, max: 150n }),
            }),
            fc.record({
              kind: fc.constant("pay" as const),
              amount: fc.bigInt({ min: -5n, max: 150n }),
            }),
            fc.record({
              kind: fc.constant("topup" as const),
              amount: fc.bigInt({ min: 1n, max: 50n }),
            }),
          ),
          { maxLength: 25 },
        ),
        (depA, depB, ops) => {
          let { b } = openPair(depA, depB, id);
          let nonce = 0n;
          let sentA = 0n;
          let totalB = depB;
          for (const op of ops) {
            const before: ChannelState = b;
            if (op.kind === "recv") {
              nonce += 1n;
              const s = signed(alice, { channelId: id, nonce, transferred: sentA + op.amount });
              b = transition(b, received(s, alice.address), ctxB).state;
              if (b !== before) sentA += op.amount;
            } else if (op.kind === "pay") {
              b = transition(b, { type: "ActionPay", amount: op.amount }, ctxB).state;
            } else {
              totalB += op.amount;
              b = transition(
                b,
                { type: "ChainDeposited", channelId: id, participant: "B", total: totalB },
                ctxB,
              ).state;
            }
            expect(balanceOf(b, "A") >= 0n).toBe(true);
            expect(balanceOf(b, "B") >= 0n).toBe(true);
            expect(balanceOf(b, "A") + balanceOf(b, "B")).toBe(b.depositA + b.depositB);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("tokens are conserved by the payout rule, whatever proofs reach the chain", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 128n }),
        fc.bigInt({ min: 0n, max: 1n << 128n }),
        fc.bigInt({ min: 0n, max: 1n << 130n }),
        fc.bigInt({ min: 0n, max: 1n << 130n }),
        (depA, depB, sentA, sentB) => {
          const { payoutA, payoutB } = computePayouts(depA, depB, sentA, sentB);
          expect(payoutA + payoutB).toBe(depA + depB);
          expect(payoutA >= 0n && payoutB >= 0n).toBe(true);
        },
      ),
    );
  });

  it("a cooperative settlement pays exactly the off-chain balances", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 100n }),
        fc.bigInt({ min: 0n, max: 100n }),
        (pay, depB) => {
          let { a, b } = openPair(100n, depB, id);
          const p = transition(a, { type: "ActionPay", amount: pay }, ctxA);
          a = p.state;
          const sent = p.effects[0]!.type === "SendBalanceProof" ? p.effects[0]!.signed : null;
          if (sent !== null) b = transition(b, received(sent, alice.address), ctxB).state;
          const prop = transition(a, { type: "ActionProposeSettlement" }, ctxA);
          const e = prop.effects[0]!;
          expect(e.type).toBe("SendSettlementProposal");
          if (e.type !== "SendSettlementProposal") return;
          expect(e.settlement.payoutA).toBe(balanceOf(a, "A"));
          expect(e.settlement.payoutB).toBe(balanceOf(b, "B"));
          const resp = transition(
            b,
            {
              type: "ReceiveSettlementProposal",
              settlement: e.settlement,
              signature: e.signature,
              domain: a.params.domain,
              check: { ok: true, value: alice.address },
            },
            ctxB,
          );
          expect(resp.effects.map((x) => x.type)).toEqual([
            "SendSettlementSignature",
            "NotifySettlementSigned",
          ]);
        },
      ),
      { numRuns: 30 },
    );
  });
});
