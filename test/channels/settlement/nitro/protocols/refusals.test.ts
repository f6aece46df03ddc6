/**
 * What the direct fund and defund cores refuse, one case a row: each refusal carries its code and
 * returns the very same state object, with no effect but the refusal.
 */
import { describe, expect, it } from "vitest";
import { nitroChannelId } from "../../../../../channels/settlement/nitro/encoding.ts";
import {
  directDefundTransition,
  startDirectDefund,
} from "../../../../../channels/settlement/nitro/protocols/direct-defund.ts";
import {
  directFundTransition,
  startDirectFund,
} from "../../../../../channels/settlement/nitro/protocols/direct-fund.ts";
import type {
  ObjectiveInput,
  ObjectiveRejectionCode,
} from "../../../../../channels/settlement/nitro/protocols/objective.ts";
import { signState } from "../../../../../channels/settlement/nitro/signatures.ts";
import type { VariablePart } from "../../../../../channels/settlement/nitro/types.ts";
import type { Address } from "../../../../../channels/types.ts";
import { ctxA, ctxB, FUNDED_HOLDINGS, ledger, outcomeOf, TOKEN } from "./harness.ts";

const fp = ledger();
const channelId = nitroChannelId(fp);
const outcome = outcomeOf(5n, 3n);
const prefund: VariablePart = { outcome, appData: "0x", turnNum: 0, isFinal: false };
const final: VariablePart = { outcome, appData: "0x", turnNum: 2, isFinal: true };
const fromB = (v: VariablePart, signature = signState(ctxB.signer, fp, v)): ObjectiveInput => ({
  type: "ReceiveNitroState",
  channelId,
  variablePart: v,
  signature,
});
const holdings = (
  over: Partial<{ channelId: typeof channelId; asset: Address }>,
): ObjectiveInput => ({
  type: "ChainNitroHoldings",
  channelId,
  asset: TOKEN,
  holdings: 5n,
  blockNumber: 1,
  logIndex: 0,
  ...over,
});

const fundCases: readonly [string, ObjectiveInput, ObjectiveRejectionCode][] = [
  [
    "our own signature sent back",
    fromB(prefund, signState(ctxA.signer, fp, prefund)),
    "SIGNER_MISMATCH",
  ],
  [
    "a truncated signature",
    fromB(prefund, new Uint8Array(64).fill(1).subarray(0, 10)),
    "SIGNATURE_LENGTH",
  ],
  [
    "a signature over another state",
    fromB(prefund, signState(ctxB.signer, fp, final)),
    "SIGNER_MISMATCH",
  ],
  ["another appData", fromB({ ...prefund, appData: "0x01" }), "STATE_UNEXPECTED"],
  ["a turn past funding", fromB({ ...prefund, turnNum: 2 }), "TURN_UNEXPECTED"],
  [
    "holdings of another channel",
    holdings({ channelId: nitroChannelId(ledger(9n)) }),
    "CHANNEL_MISMATCH",
  ],
  [
    "holdings in another asset",
    holdings({ asset: "0x00000000000000000000000000000000000000bb" }),
    "ASSET_UNKNOWN",
  ],
];

describe("direct fund refuses", () => {
  const start = startDirectFund({ fixedPart: fp, myIndex: 0, outcome }, ctxA).state;
  it.each(fundCases)("%s", (_name, input, code) => {
    const r = directFundTransition(start, input, ctxA);
    expect(r.state).toBe(start);
    expect(r.effects).toEqual([
      expect.objectContaining({ type: "InvalidReceivedNitroInput", code }),
    ]);
  });

  it("takes a duplicate as a no-op, and nothing once completed", () => {
    const once = directFundTransition(start, fromB(prefund), ctxA);
    expect(once.state.prefund.every((x) => x !== undefined)).toBe(true);
    // A gets the first turn: its deposit is due as soon as both signed the prefund state.
    expect(once.effects).toEqual([
      expect.objectContaining({ type: "ChainSendNitroDeposit", expectedHeld: 0n, amount: 5n }),
    ]);
    const twice = directFundTransition(once.state, fromB(prefund), ctxA);
    expect(twice.state).toBe(once.state);
    expect(twice.effects).toEqual([]);
    const done = { ...once.state, completed: true };
    expect(directFundTransition(done, holdings({}), ctxA).state).toBe(done);
  });
});

describe("direct defund refuses", () => {
  const start = startDirectDefund(
    { fixedPart: fp, myIndex: 0, latest: { ...prefund, turnNum: 1 }, holdings: [FUNDED_HOLDINGS] },
    ctxA,
  ).state;
  const cases: readonly [string, ObjectiveInput, ObjectiveRejectionCode][] = [
    ["a non-final state", fromB({ ...final, isFinal: false }), "STATE_UNEXPECTED"],
    ["the latest state again", fromB({ ...final, turnNum: 1, isFinal: false }), "TURN_UNEXPECTED"],
    [
      "a final state with another outcome",
      fromB({ ...final, outcome: outcomeOf(0n, 8n) }),
      "OUTCOME_CHANGED",
    ],
    [
      "our own signature sent back",
      fromB(final, signState(ctxA.signer, fp, final)),
      "SIGNER_MISMATCH",
    ],
    [
      "a state of another channel",
      { ...fromB(final), channelId: nitroChannelId(ledger(9n)) } as ObjectiveInput,
      "CHANNEL_MISMATCH",
    ],
  ];
  it.each(cases)("%s", (_name, input, code) => {
    const r = directDefundTransition(start, input, ctxA);
    expect(r.state).toBe(start);
    expect(r.effects).toEqual([
      expect.objectContaining({ type: "InvalidReceivedNitroInput", code }),
    ]);
  });
});
