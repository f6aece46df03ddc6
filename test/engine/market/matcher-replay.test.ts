import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Matcher, readEffects } from "../../../engine/market/book/index.ts";
import { type Op, opArb } from "./helpers/order-arbitraries.ts";

/** Runs a stream and returns everything observable: each call's result and effects, and the book. */
function replay(ops: readonly Op[]): unknown[] {
  const m = new Matcher({ capacity: 16 });
  const ids: number[] = [];
  const log: unknown[] = [];
  let now = 0;
  for (const op of ops) {
    let r: unknown;
    if (op.op === "offer") r = m.placeOffer(op.input, now);
    else if (op.op === "request") r = m.placeRequest(op.input, now);
    else if (op.op === "cancel") r = m.cancel(ids[op.target % Math.max(1, ids.length)] ?? 0);
    else if (op.op === "amend")
      r = m.amend(ids[op.target % Math.max(1, ids.length)] ?? 0, op.price, op.qty, now);
    else if (op.op === "stats") m.setProviderStats(op.owner, op.rating, op.completed);
    else now += op.advance;
    if (typeof r === "number" && (op.op === "offer" || op.op === "request")) ids.push(r);
    log.push([r, readEffects(m.out)]);
  }
  log.push(m.liveIds().map((id) => m.order(id)));
  return log;
}

describe("matcher determinism", () => {
  it("the same order stream always produces the same deals and book", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10, maxLength: 300 }), (ops) => {
        expect(replay(ops)).toEqual(replay(ops));
      }),
      { numRuns: 100 },
    );
  });

  it("replays a long stream (10,000 orders) identically", () => {
    const ops = fc.sample(opArb, { numRuns: 10_000, seed: 42 });
    const a = replay(ops);
    expect(JSON.stringify(replay(ops))).toBe(JSON.stringify(a));
  });
});
