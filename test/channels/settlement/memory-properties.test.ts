/**
 * Properties of the in-memory chain under random sequences of deposits, closes, proof updates
 * (valid, stale and forged), clock moves, settles and cooperative closes: tokens are conserved,
 * no balance goes negative, a stale proof never wins, and a settle pays what the best proofs say.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareProofs, type ProofPosition } from "../../../channels/proof-order.ts";
import { computePayouts } from "../../../channels/settlement/committed.ts";
import type { SettlementEffect } from "../../../channels/settlement/effects.ts";
import { isSettlementError } from "../../../channels/settlement/errors.ts";
import { MemoryChain } from "../../../channels/settlement/memory/memory-chain.ts";
import type { ChannelId, Role } from "../../../channels/types.ts";
import { alice, bob, domain, mallory } from "../helpers.ts";

const FUNDS = 1_000n;
const signerOf = (r: Role) => (r === "A" ? alice : bob);
const role = fc.constantFrom<Role>("A", "B");

type Op =
  | { kind: "deposit"; who: Role; amount: bigint }
  | { kind: "close"; who: Role; nonce: bigint; transferred: bigint; empty: boolean }
  | { kind: "update"; signer: Role; nonce: bigint; transferred: bigint; forged: boolean }
  | { kind: "advance"; seconds: number }
  | { kind: "settle" }
  | { kind: "cooperative"; payoutA: bigint; spare: bigint };

const amount = fc.bigInt({ min: 0n, max: 400n });
const nonce = fc.bigInt({ min: 1n, max: 8n });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("deposit" as const), who: role, amount }),
  fc.record({
    kind: fc.constant("close" as const),
    who: role,
    nonce,
    transferred: amount,
    empty: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("update" as const),
    signer: role,
    nonce,
    transferred: amount,
    forged: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("advance" as const), seconds: fc.integer({ min: 0, max: 80 }) }),
  fc.record({ kind: fc.constant("settle" as const) }),
  fc.record({
    kind: fc.constant("cooperative" as const),
    payoutA: amount,
    spare: fc.bigInt({ min: 0n, max: 1n }),
  }),
);

describe("in-memory chain properties", () => {
  it("conserves tokens, keeps balances non-negative, never lets a stale proof win, settles by the best proofs", () => {
    fc.assert(
      fc.property(amount, fc.array(op, { maxLength: 40 }), (depositA, ops) => {
        const chain = new MemoryChain({
          domain,
          time: 0,
          balances: [
            [alice.address, FUNDS],
            [bob.address, FUNDS],
          ],
        });
        const addr = (r: Role) => signerOf(r).address;
        const { channelId: id } = chain.execute(alice.address, {
          type: "ChainSendOpen",
          partner: bob.address,
          amount: depositA,
          settleWindow: 60,
        });
        const deposits = { A: depositA, B: 0n };
        /** The best proof the chain accepted for each side since the close. */
        let best: Record<Role, ProofPosition> | null = null;
        const tryRun = (who: Role, effect: SettlementEffect) => {
          try {
            chain.execute(addr(who), effect);
            return undefined;
          } catch (err) {
            if (!isSettlementError(err)) throw err;
            return err.code;
          }
        };
        const sign = (signer: Role, channelId: ChannelId, n: bigint, t: bigint, forged = false) => {
          const proof = { channelId, nonce: n, transferred: t };
          return {
            proof,
            signature: (forged ? mallory : signerOf(signer)).signBalanceProof(domain, proof),
          };
        };
        for (const o of ops) {
          const view = chain.read(id);
          switch (o.kind) {
            case "deposit": {
              const funds = chain.balanceOf(addr(o.who));
              const refused = tryRun(o.who, {
                type: "ChainSendDeposit",
                channelId: id,
                participant: o.who,
                amount: o.amount,
              });
              if (view.status !== "open") expect(refused).toBe("CHANNEL_NOT_OPEN");
              else if (funds < o.amount) expect(refused).toBe("INSUFFICIENT_FUNDS");
              else {
                expect(refused).toBeUndefined();
                deposits[o.who] += o.amount;
              }
              break;
            }
            case "close": {
              const partner: Role = o.who === "A" ? "B" : "A";
              const proof = o.empty ? null : sign(partner, id, o.nonce, o.transferred);
              const refused = tryRun(o.who, { type: "ChainSendClose", channelId: id, proof });
              expect(refused === undefined).toBe(view.status === "open");
              if (refused === undefined) {
                const held = o.empty
                  ? { nonce: 0n, transferred: 0n }
                  : { nonce: o.nonce, transferred: o.transferred };
                const empty = { nonce: 0n, transferred: 0n };
                best = o.who === "A" ? { A: empty, B: held } : { A: held, B: empty };
              }
              break;
            }
            case "update": {
              if (view.status !== "closing") {
                const closing = {
                  a: alice.address,
                  b: bob.address,
                  depositA: deposits.A,
                  depositB: deposits.B,
                  nonceA: 0n,
                  sentA: 0n,
                  nonceB: 0n,
                  sentB: 0n,
                };
                const signed = sign(o.signer, id, o.nonce, o.transferred);
                expect(
                  tryRun("A", {
                    type: "ChainSendUpdateProof",
                    channelId: id,
                    closing,
                    signer: o.signer,
                    signed,
                  }),
                ).toBe("CHANNEL_NOT_CLOSING");
                break;
              }
              const signed = sign(o.signer, id, o.nonce, o.transferred, o.forged);
              const refused = tryRun("B", {
                type: "ChainSendUpdateProof",
                channelId: id,
                closing: view.closing,
                signer: o.signer,
                signed,
              });
              const better = compareProofs(signed.proof, best![o.signer]) > 0;
              if (chain.time >= view.finalizesAt) expect(refused).toBe("WINDOW_OVER");
              else if (!better) expect(refused).toBe("STALE_PROOF");
              else if (o.forged) expect(refused).toBe("INVALID_SIGNATURE");
              else {
                expect(refused).toBeUndefined();
                best![o.signer] = signed.proof;
              }
              break;
            }
            case "advance":
              chain.advance(o.seconds);
              break;
            case "settle": {
              const before = { A: chain.balanceOf(alice.address), B: chain.balanceOf(bob.address) };
              const refused = tryRun("A", {
                type: "ChainSendSettle",
                channelId: id,
                closing:
                  view.status === "closing"
                    ? view.closing
                    : {
                        a: alice.address,
                        b: bob.address,
                        depositA: 0n,
                        depositB: 0n,
                        nonceA: 0n,
                        sentA: 0n,
                        nonceB: 0n,
                        sentB: 0n,
                      },
              });
              if (view.status !== "closing") expect(refused).toBe("CHANNEL_NOT_CLOSING");
              else if (chain.time < view.finalizesAt) expect(refused).toBe("WINDOW_RUNNING");
              else {
                expect(refused).toBeUndefined();
                // Paid by the best proof of each side, whatever stale ones were tried.
                const p = computePayouts(
                  deposits.A,
                  deposits.B,
                  best!.A.transferred,
                  best!.B.transferred,
                );
                expect(chain.balanceOf(alice.address) - before.A).toBe(p.payoutA);
                expect(chain.balanceOf(bob.address) - before.B).toBe(p.payoutB);
              }
              break;
            }
            case "cooperative": {
              const total = deposits.A + deposits.B;
              const payoutA = o.payoutA > total ? total : o.payoutA;
              const settlement = { channelId: id, payoutA, payoutB: total - payoutA + o.spare };
              const refused = tryRun("B", {
                type: "ChainSendCooperativeClose",
                channelId: id,
                settlement,
                signatureA: alice.signSettlement(domain, settlement),
                signatureB: bob.signSettlement(domain, settlement),
              });
              if (view.status !== "open") expect(refused).toBe("CHANNEL_NOT_OPEN");
              else if (o.spare !== 0n) expect(refused).toBe("PAYOUTS_MISMATCH");
              else expect(refused).toBeUndefined();
              break;
            }
          }
          // Conserved, never negative, and while closing the chain holds exactly the best proofs.
          const a = chain.balanceOf(alice.address);
          const b = chain.balanceOf(bob.address);
          expect(a >= 0n && b >= 0n).toBe(true);
          expect(a + b + chain.locked).toBe(2n * FUNDS);
          const now = chain.read(id);
          if (now.status === "closing") {
            expect(now.closing).toMatchObject({
              nonceA: best!.A.nonce,
              sentA: best!.A.transferred,
              nonceB: best!.B.nonce,
              sentB: best!.B.transferred,
            });
          }
          if (now.status !== "none") {
            const held =
              now.status === "open"
                ? now.depositA + now.depositB
                : now.closing.depositA + now.closing.depositB;
            expect(held).toBe(chain.locked);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
