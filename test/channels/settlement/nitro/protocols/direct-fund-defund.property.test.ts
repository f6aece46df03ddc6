/**
 * Direct fund and defund under any interleaving: two cores against a model of the adjudicator,
 * with peer messages and chain events delivered duplicated, reordered, stale or forged. Neither
 * core deposits twice or out of turn, signs a state that changes the outcome, completes funding
 * before both postfund signatures and full holdings, or completes defund before the payout; and
 * after a fair delivery both complete, with the final outcome paying out exactly the deposits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashExit, nitroChannelId } from "../../../../../channels/settlement/nitro/encoding.ts";
import {
  type DirectDefundState,
  directDefundTransition,
  startDirectDefund,
} from "../../../../../channels/settlement/nitro/protocols/direct-defund.ts";
import {
  type DirectFundState,
  directFundTransition,
  startDirectFund,
} from "../../../../../channels/settlement/nitro/protocols/direct-fund.ts";
import type {
  ObjectiveContext,
  ObjectiveEffect,
  ObjectiveInput,
  ObjectiveRejectionCode,
  ObjectiveResult,
  ReceiveNitroState,
} from "../../../../../channels/settlement/nitro/protocols/objective.ts";
import { signState } from "../../../../../channels/settlement/nitro/signatures.ts";
import type { VariablePart } from "../../../../../channels/settlement/nitro/types.ts";
import { asReceived, ctxA, ctxB, ledger, ModelChain, outcomeOf, stranger } from "./harness.ts";

const fp = ledger();
const channelId = nitroChannelId(fp);
const ctxs: readonly ObjectiveContext[] = [ctxA, ctxB];

type Step =
  | { readonly kind: "msg"; readonly pick: number }
  | { readonly kind: "event"; readonly to: 0 | 1; readonly pick: number }
  | { readonly kind: "mine"; readonly pick: number }
  | { readonly kind: "forge"; readonly to: 0 | 1; readonly forgery: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("msg" as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant("event" as const),
    to: fc.constantFrom(0 as const, 1 as const),
    pick: fc.nat(),
  }),
  fc.record({ kind: fc.constant("mine" as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant("forge" as const),
    to: fc.constantFrom(0 as const, 1 as const),
    forgery: fc.nat({ max: 4 }),
  }),
);

/** A forged state sent to `to`, and the code it must be refused with. */
function forge(
  to: 0 | 1,
  forgery: number,
  expected: VariablePart,
): { readonly input: ReceiveNitroState; readonly code: ObjectiveRejectionCode } {
  const peer = ctxs[1 - to]!.signer;
  const signed = (v: VariablePart, by = peer) => ({
    type: "ReceiveNitroState" as const,
    channelId,
    variablePart: v,
    signature: signState(by, fp, v),
  });
  const [a, b] = expected.outcome[0]!.allocations.map((x) => x.amount) as [bigint, bigint];
  switch (forgery) {
    case 0:
      return {
        input: { ...signed(expected), channelId: nitroChannelId(ledger(2n)) },
        code: "CHANNEL_MISMATCH",
      };
    case 1:
      return {
        input: signed({ ...expected, turnNum: expected.turnNum + 5 }),
        code: "TURN_UNEXPECTED",
      };
    case 2:
      return {
        input: signed({ ...expected, outcome: outcomeOf(a + 1n, b) }),
        code: "OUTCOME_CHANGED",
      };
    case 3:
      return {
        input: signed({ ...expected, isFinal: !expected.isFinal }),
        code: "STATE_UNEXPECTED",
      };
    default:
      return { input: signed(expected, stranger), code: "SIGNER_MISMATCH" };
  }
}

/** One phase: two cores, the messages and transactions they emitted, and invariant checks. */
class World<S> {
  readonly messages: { readonly to: 0 | 1; readonly input: ReceiveNitroState }[] = [];
  readonly delivered = new Set<number>();
  readonly pending: ObjectiveEffect[] = [];
  readonly states: S[] = [];
  completed = [false, false];

  constructor(
    readonly chain: ModelChain,
    start: readonly ObjectiveResult<S>[],
    readonly transition: (s: S, i: ObjectiveInput, ctx: ObjectiveContext) => ObjectiveResult<S>,
    readonly check: (party: 0 | 1, before: S, result: ObjectiveResult<S>, w: World<S>) => void,
  ) {
    start.forEach((r, p) => {
      this.states.push(r.state);
      this.carry(p as 0 | 1, r);
    });
  }

  carry(party: 0 | 1, r: ObjectiveResult<S>) {
    for (const e of r.effects) {
      const m = asReceived(e);
      if (m !== undefined) this.messages.push({ to: (1 - party) as 0 | 1, input: m });
      if (e.type === "ChainSendNitroDeposit" || e.type === "ChainSendNitroConcludeAndTransfer") {
        this.pending.push(e);
      }
      if (e.type === "NotifyObjectiveCompleted") this.completed[party] = true;
    }
  }

  input(party: 0 | 1, input: ObjectiveInput): ObjectiveResult<S> {
    const before = this.states[party]!;
    const r = this.transition(before, input, ctxs[party]!);
    this.check(party, before, r, this);
    this.states[party] = r.state;
    this.carry(party, r);
    return r;
  }

  run(s: Step, expected: (to: 0 | 1) => VariablePart) {
    if (s.kind === "msg" && this.messages.length > 0) {
      const i = s.pick % this.messages.length;
      this.delivered.add(i);
      this.input(this.messages[i]!.to, this.messages[i]!.input);
    } else if (s.kind === "event" && this.chain.events.length > 0) {
      this.input(s.to, this.chain.events[s.pick % this.chain.events.length]!);
    } else if (s.kind === "mine" && this.pending.length > 0) {
      const [tx] = this.pending.splice(s.pick % this.pending.length, 1);
      this.chain.mine(tx!);
    } else if (s.kind === "forge") {
      const { input, code } = forge(s.to, s.forgery, expected(s.to));
      const before = this.states[s.to]!;
      const r = this.input(s.to, input);
      expect(r.state).toBe(before);
      expect(r.effects).toEqual([
        expect.objectContaining({ type: "InvalidReceivedNitroInput", code }),
      ]);
    }
  }

  /** Fair delivery: every message once more, every transaction mined, the newest event to both. */
  flush() {
    for (let round = 0; round < 10 && !this.completed.every(Boolean); round++) {
      for (let i = 0; i < this.messages.length; i++)
        this.input(this.messages[i]!.to, this.messages[i]!.input);
      while (this.pending.length > 0) this.chain.mine(this.pending.shift()!);
      const last = this.chain.events.at(-1);
      if (last !== undefined) for (const p of [0, 1] as const) this.input(p, last);
    }
  }
}

const amounts = fc.tuple(
  fc.bigInt({ min: 0n, max: 10n ** 20n }),
  fc.bigInt({ min: 0n, max: 10n ** 20n }),
);

describe("direct fund and defund under any interleaving", () => {
  it("deposit once, in turn, never sign another outcome, complete only when safe; then pay out the deposits", () => {
    fc.assert(
      fc.property(
        amounts,
        fc.array(step, { maxLength: 40 }),
        fc.array(step, { maxLength: 25 }),
        ([a, b], fundSteps, defundSteps) => {
          const outcome = outcomeOf(a, b);
          const outcomeHash = hashExit(outcome);
          const chain = new ModelChain(channelId);
          const deposits = [0, 0];
          const checkSent = (effects: readonly ObjectiveEffect[]) => {
            for (const e of effects) {
              if (e.type === "SendNitroState")
                expect(hashExit(e.variablePart.outcome)).toBe(outcomeHash);
            }
          };
          const fund = new World<DirectFundState>(
            chain,
            [0, 1].map((i) => startDirectFund({ fixedPart: fp, myIndex: i, outcome }, ctxs[i]!)),
            directFundTransition,
            (party, before, r) => {
              checkSent(r.effects);
              for (const e of r.effects) {
                if (e.type === "ChainSendNitroDeposit") {
                  deposits[party]! += 1;
                  expect(deposits[party]).toBe(1);
                  const owedBefore = party === 0 ? 0n : a;
                  // What the core had seen once this input was applied (a holdings event may be it).
                  const seen = r.state.holdings[0]!.holdings;
                  expect(r.state.prefund.every((x) => x !== undefined)).toBe(true);
                  expect(before.deposited[0]).toBe(false);
                  expect(e.expectedHeld).toBe(seen);
                  expect(seen >= owedBefore).toBe(true);
                  expect(e.expectedHeld + e.amount).toBe(owedBefore + (party === 0 ? a : b));
                }
                if (e.type === "NotifyObjectiveCompleted") {
                  expect(r.state.postfund.every((x) => x !== undefined)).toBe(true);
                  expect(r.state.holdings[0]!.holdings >= a + b).toBe(true);
                  expect(chain.holdings >= a + b).toBe(true);
                }
              }
            },
          );
          const fundExpected = (to: 0 | 1): VariablePart => ({
            outcome,
            appData: "0x",
            turnNum: fund.states[to]!.prefund.every((x) => x !== undefined) ? 1 : 0,
            isFinal: false,
          });
          for (const s of fundSteps) fund.run(s, fundExpected);
          fund.flush();
          expect(fund.completed).toEqual([true, true]);
          expect(chain.holdings).toBe(a + b);

          const latest: VariablePart = { outcome, appData: "0x", turnNum: 1, isFinal: false };
          const defund = new World<DirectDefundState>(
            chain,
            [0, 1].map((i) =>
              startDirectDefund(
                { fixedPart: fp, myIndex: i, latest, holdings: fund.states[i]!.holdings },
                ctxs[i]!,
              ),
            ),
            directDefundTransition,
            (_party, _before, r) => {
              checkSent(r.effects);
              for (const e of r.effects) {
                if (e.type === "NotifyObjectiveCompleted") {
                  expect(r.state.signatures.every((x) => x !== undefined)).toBe(true);
                  expect(chain.holdings).toBe(0n);
                }
                if (e.type === "ChainSendNitroConcludeAndTransfer") {
                  expect(e.candidate.variablePart.isFinal).toBe(true);
                  expect(e.candidate.variablePart.turnNum).toBe(2);
                }
              }
            },
          );
          const final: VariablePart = { ...latest, turnNum: 2, isFinal: true };
          for (const s of defundSteps) defund.run(s, () => final);
          defund.flush();
          expect(defund.completed).toEqual([true, true]);
          // Tokens conserved: the final outcome pays out exactly what was deposited.
          expect(chain.holdings).toBe(0n);
          const paid = [...chain.paidOut.values()].reduce((x, y) => x + y, 0n);
          expect(paid).toBe(chain.deposited);
          expect(outcome[0]!.allocations.reduce((x, y) => x + y.amount, 0n)).toBe(chain.deposited);
        },
      ),
      { numRuns: 60 },
    );
  });
});
