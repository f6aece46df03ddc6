/** The fast-lane path core, without I/O: tables and a property. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createPath,
  type LaneQuote,
  type PathEffect,
  type PathInput,
  type PathState,
  pathTransition,
} from "../../../relay/fastlane/path.ts";

const quote = (hop: string, price = 10n): LaneQuote => ({
  hop,
  payee: `0x${hop}`,
  rateKbit: 8_000,
  pricePerSecond: price,
  creditLimit: 20n,
});

function run(s: PathState, inputs: PathInput[], now = 0) {
  const effects: PathEffect[] = [];
  for (const i of inputs) {
    const r = pathTransition(s, i, { now });
    s = r.state;
    effects.push(...r.effects);
  }
  return { s, effects };
}

const start = () =>
  createPath({
    sessionId: "p",
    hops: ["a", "b", "c"],
    request: { flow: { dst: "10.0.0.1" }, rateKbit: 8_000 },
    maxPricePerSecond: 10n,
  });

const toActivating: PathInput[] = [
  { type: "ActionStart" },
  ...["a", "b", "c"].map((h) => ({ type: "ReceiveQuote" as const, hop: h, quote: quote(h) })),
  ...["a", "b", "c"].map((h) => ({ type: "ActionChannelReady" as const, hop: h, channelId: h })),
];

describe("path core", () => {
  it("activates every hop before it pays any, then pays each", () => {
    const { s, effects } = run(start(), toActivating);
    expect(s.phase).toBe("activating");
    expect(effects.filter((e) => e.type === "SendActivate")).toHaveLength(3);
    expect(effects.some((e) => e.type === "SendPayment")).toBe(false);
    const two = run(s, [
      { type: "ReceiveLaneActive", hop: "a" },
      { type: "ReceiveLaneActive", hop: "b" },
    ]);
    expect(two.effects).toEqual([]);
    const all = run(two.s, [{ type: "ReceiveLaneActive", hop: "c" }], 5_000);
    expect(all.s.phase).toBe("active");
    expect(all.effects[0]).toEqual({ type: "NotifyPathActive" });
    expect(all.effects.filter((e) => e.type === "SendPayment")).toHaveLength(3);
  });

  it("tears down hop by hop in reverse", () => {
    let { s } = run(start(), toActivating);
    s = run(
      s,
      ["a", "b", "c"].map((h) => ({ type: "ReceiveLaneActive" as const, hop: h })),
    ).s;
    const order: string[] = [];
    let r = run(s, [{ type: "ActionStop", reason: "done" }]);
    for (;;) {
      const t = r.effects.find((e) => e.type === "SendTeardown");
      if (t === undefined || t.type !== "SendTeardown") break;
      order.push(t.hop);
      r = run(r.s, [{ type: "ReceiveLaneRemoved", hop: t.hop }]);
    }
    expect(order).toEqual(["c", "b", "a"]);
    expect(r.effects).toContainEqual({
      type: "NotifyPathClosed",
      code: "STOPPED",
      hop: null,
      outcome: "done",
      wasActive: true,
    });
  });

  it("aborts on a failed activation with nobody paid, tearing down what came up", () => {
    let { s } = run(start(), toActivating);
    const r = run(s, [
      { type: "ReceiveLaneActive", hop: "a" },
      { type: "ReceiveLaneFailed", hop: "b", reason: "tc" },
    ]);
    s = r.s;
    expect(r.effects).toEqual([{ type: "SendTeardown", hop: "c" }]);
    const rest = run(s, [
      { type: "ReceiveLaneRemoved", hop: "c" },
      { type: "ReceiveLaneRemoved", hop: "a" },
    ]);
    expect(rest.s.phase).toBe("closed");
    expect(rest.s.wasActive).toBe(false);
    expect(rest.s.hops.every((h) => h.paid === 0n)).toBe(true);
  });

  it("refuses a quote over the price limit before any channel or lane", () => {
    const { s, effects } = run(start(), [
      { type: "ActionStart" },
      { type: "ReceiveQuote", hop: "a", quote: quote("a", 11n) },
    ]);
    expect(s.phase).toBe("closed");
    expect(effects.some((e) => e.type === "NotifyEnsureChannel" || e.type === "SendActivate")).toBe(
      false,
    );
  });

  it("never pays before every hop is active, whatever the order of answers", () => {
    const answers: PathInput[] = [
      ...["a", "b", "c"].map((h) => ({ type: "ReceiveLaneActive" as const, hop: h })),
      { type: "ReceiveLaneFailed", hop: "b", reason: "x" },
      { type: "ActionTick" },
      { type: "ActionStop", reason: "user" },
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...answers), { maxLength: 12 }), (seq) => {
        let s = run(start(), toActivating).s;
        let allActiveSeen = false;
        for (const i of seq) {
          const r = pathTransition(s, i, { now: 1_000 });
          if (r.effects.some((e) => e.type === "SendPayment")) {
            expect(allActiveSeen || r.state.wasActive).toBe(true);
          }
          s = r.state;
          if (s.wasActive) allActiveSeen = true;
        }
        if (!s.wasActive) expect(s.hops.every((h) => h.paid === 0n)).toBe(true);
      }),
    );
  });
});
