/** The proof pipeline's fair queue against a model: bounds, per-lane order, equal shares. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FairQueue } from "../../relay/provider/fair-queue.ts";

const LIMITS = { perLane: 8, total: 20, reservedPerLane: 2 };
const LANES = 5;

type Op =
  | { readonly kind: "push"; readonly lane: number }
  | { readonly kind: "take"; readonly max: number }
  | { readonly kind: "drop"; readonly lane: number }
  | { readonly kind: "requeue" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.nat(LANES - 1).map((lane) => ({ kind: "push", lane }) as const) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 1, max: 12 }).map((max) => ({ kind: "take", max }) as const),
  },
  { weight: 1, arbitrary: fc.nat(LANES - 1).map((lane) => ({ kind: "drop", lane }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: "requeue" } as const) },
);

describe("FairQueue", () => {
  it("keeps its bounds and each lane's order, and shares every batch equally", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const keys = Array.from({ length: LANES }, (_, i) => ({ lane: i }));
        const q = new FairQueue<{ lane: number }, number, string>(LIMITS);
        const model: number[][] = keys.map(() => []);
        let seq = 0;
        let lastTaken: { key: { lane: number }; a: number[]; b: string[] } | null = null;
        const total = () => model.reduce((s, l) => s + l.length, 0);
        for (const o of ops) {
          if (o.kind === "push") {
            const lane = model[o.lane]!;
            const fits =
              lane.length < LIMITS.perLane &&
              (total() < LIMITS.total || lane.length < LIMITS.reservedPerLane);
            const item = seq++;
            expect(q.push(keys[o.lane]!, item, `b${item}`, item)).toBe(fits);
            if (fits) lane.push(item);
          } else if (o.kind === "take") {
            const before = model.map((l) => l.length);
            const active = before.filter((n) => n > 0).length;
            const batch = q.take(o.max);
            expect(batch.a.length).toBe(Math.min(o.max, total()));
            // Per lane, a prefix of its items in order; each lane gets its equal share or all.
            const share = Math.max(1, Math.floor(Math.min(o.max, total()) / Math.max(1, active)));
            keys.forEach((k, i) => {
              const got = batch.a.filter((_, j) => batch.keys[j] === k);
              expect(got).toEqual(model[i]!.slice(0, got.length));
              if (active <= o.max)
                expect(got.length).toBeGreaterThanOrEqual(Math.min(share, before[i]!));
              model[i]!.splice(0, got.length);
            });
            expect(batch.b).toEqual(batch.a.map((a) => `b${a}`));
            const first = keys.findIndex((k) => batch.keys.includes(k));
            lastTaken =
              first < 0
                ? null
                : {
                    key: keys[first]!,
                    a: batch.a.filter((_, j) => batch.keys[j] === keys[first]),
                    b: batch.b.filter((_, j) => batch.keys[j] === keys[first]),
                  };
          } else if (o.kind === "drop") {
            expect(q.drop(keys[o.lane]!)).toBe(model[o.lane]!.length);
            model[o.lane] = [];
          } else if (lastTaken !== null) {
            const lane = model[lastTaken.key.lane]!;
            const put = q.requeue(lastTaken.key, lastTaken.a, lastTaken.b, 0);
            expect(put).toBeLessThanOrEqual(lastTaken.a.length);
            lane.unshift(...lastTaken.a.slice(0, put));
            lastTaken = null;
          }
          expect(q.size).toBe(total());
          keys.forEach((k, i) => {
            expect(q.laneSize(k)).toBe(model[i]!.length);
            expect(q.laneSize(k)).toBeLessThanOrEqual(LIMITS.perLane);
          });
          expect(q.size).toBeLessThanOrEqual(LIMITS.total + LANES * LIMITS.reservedPerLane);
          expect(q.peak).toBeGreaterThanOrEqual(q.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("with no bounds takes everything waiting in one batch", () => {
    const q = new FairQueue<object, number, number>({
      perLane: Number.POSITIVE_INFINITY,
      total: Number.POSITIVE_INFINITY,
      reservedPerLane: Number.POSITIVE_INFINITY,
    });
    const a = {};
    const b = {};
    for (let i = 0; i < 10_000; i++) q.push(i % 3 === 0 ? a : b, i, i, 0);
    expect(q.take(Number.POSITIVE_INFINITY).a.length).toBe(10_000);
    expect(q.size).toBe(0);
  });
});
