/**
 * Properties of `syncDeposits`: deposits never decrease whatever reads arrive, in whatever
 * order; no token moves between the participants; a repeated read changes nothing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  type ChannelState,
  type ChannelStatus,
  computePayouts,
  createChannel,
  syncDeposits,
} from "../../channels/index.ts";
import { alice, bob, channelIdOf, ctxA, ctxB, domain } from "./helpers.ts";

const id = channelIdOf(7);
const amount = fc.bigInt({ min: 0n, max: 1_000n });
const readArb = fc.record({ depositA: amount, depositB: amount });

/** A channel as either participant holds it, in any status, with proofs in both directions. */
const stateArb = fc
  .record({
    self: fc.constantFrom("A" as const, "B" as const),
    status: fc.constantFrom<ChannelStatus>("opening", "open", "closed", "settled"),
    depositA: amount,
    depositB: amount,
    sentA: amount,
    sentB: amount,
  })
  .map((r): ChannelState => {
    const fresh = createChannel({
      channelId: id,
      domain,
      participantA: alice.address,
      participantB: bob.address,
      self: r.self,
      settleTimeout: 600n,
    });
    // The sync never looks at signatures; proofs here only have to be there, unchanged after.
    const proof = (transferred: bigint) => ({
      proof: { channelId: id, nonce: transferred + 1n, transferred },
      signature: new Uint8Array(65),
    });
    const [mine, theirs] = r.self === "A" ? [r.sentA, r.sentB] : [r.sentB, r.sentA];
    if (r.status === "opening") return fresh;
    return {
      ...fresh,
      status: r.status,
      depositA: r.depositA,
      depositB: r.depositB,
      sent: proof(mine),
      received: proof(theirs),
    };
  });

const ctxOf = (s: ChannelState) => (s.params.self === "A" ? ctxA : ctxB);

describe("syncDeposits", () => {
  it("deposits never decrease: an open channel holds the largest total read, others keep theirs", () => {
    fc.assert(
      fc.property(stateArb, fc.array(readArb, { maxLength: 8 }), (start, reads) => {
        let s = start;
        let maxA = start.depositA;
        let maxB = start.depositB;
        for (const read of reads) {
          const before = s;
          s = syncDeposits(s, read, ctxOf(s)).state;
          expect(s.depositA).toBeGreaterThanOrEqual(before.depositA);
          expect(s.depositB).toBeGreaterThanOrEqual(before.depositB);
          if (start.status === "opening" || start.status === "open") {
            if (read.depositA > maxA) maxA = read.depositA;
            if (read.depositB > maxB) maxB = read.depositB;
            expect(s.status).toBe("open");
          } else {
            expect(s).toBe(before);
          }
          expect(s.depositA).toBe(maxA);
          expect(s.depositB).toBe(maxB);
        }
      }),
    );
  });

  it("tokens are conserved: each balance grows by its own deposit's growth, payouts sum to the deposits", () => {
    fc.assert(
      fc.property(stateArb, readArb, (start, read) => {
        const after = syncDeposits(start, read, ctxOf(start)).state;
        expect(after.sent).toBe(start.sent);
        expect(after.received).toBe(start.received);
        for (const role of ["A", "B"] as const) {
          const grew =
            role === "A" ? after.depositA - start.depositA : after.depositB - start.depositB;
          expect(balanceOf(after, role) - balanceOf(start, role)).toBe(grew);
        }
        expect(balanceOf(after, "A") + balanceOf(after, "B")).toBe(after.depositA + after.depositB);
        const sentA = (after.params.self === "A" ? after.sent : after.received)?.proof.transferred;
        const sentB = (after.params.self === "B" ? after.sent : after.received)?.proof.transferred;
        const { payoutA, payoutB } = computePayouts(
          after.depositA,
          after.depositB,
          sentA ?? 0n,
          sentB ?? 0n,
        );
        expect(payoutA + payoutB).toBe(after.depositA + after.depositB);
      }),
    );
  });

  it("a repeated read changes nothing and says nothing", () => {
    fc.assert(
      fc.property(stateArb, readArb, (start, read) => {
        const once = syncDeposits(start, read, ctxOf(start)).state;
        const twice = syncDeposits(once, read, ctxOf(once));
        expect(twice.state).toBe(once);
        if (once.status === "open") expect(twice.effects).toEqual([]);
      }),
    );
  });

  it("opens a channel still opening and tells of the open and each deposit", () => {
    const fresh = createChannel({
      channelId: id,
      domain,
      participantA: alice.address,
      participantB: bob.address,
      self: "B",
      settleTimeout: 600n,
    });
    const { state, effects } = syncDeposits(fresh, { depositA: 50n, depositB: 5n }, ctxB);
    expect(state.status).toBe("open");
    expect([state.depositA, state.depositB]).toEqual([50n, 5n]);
    expect(effects.map((e) => e.type)).toEqual(["NotifyChannelOpened", "NotifyDeposit"]);
  });
});
