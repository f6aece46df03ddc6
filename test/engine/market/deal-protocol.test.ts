import { describe, expect, it } from "vitest";
import {
  type Deal,
  type DealContext,
  type DealInput,
  dealTransition,
  proposeDeal,
} from "../../../engine/market/deals/index.ts";
import type { Address, DealId, OrderId } from "../../../engine/market/types.ts";

const P = "0x00000000000000000000000000000000000000aa" as Address;
const R = "0x00000000000000000000000000000000000000bb" as Address;
const timeouts = { acceptMs: 1000, activateMs: 2000 };
const ctx = (now: number): DealContext => ({ now, timeouts });

function fresh(): Deal {
  return proposeDeal(
    {
      id: "d-1" as DealId,
      offerId: "0xo" as OrderId,
      requestId: "0xr" as OrderId,
      provider: P,
      requester: R,
      kind: "ip",
      priceUnit: "second",
      protocol: "socks5",
      price: 10n,
      quantity: 2,
      durationS: 60,
      volumeGib: 0,
      commissionBps: 250,
    },
    ctx(0),
  ).deal;
}

function run(deal: Deal, steps: [DealInput, number][]) {
  let d = deal;
  const effects = [];
  for (const [input, now] of steps) {
    const t = dealTransition(d, input, ctx(now));
    if (!t.ok) throw new Error(t.code);
    d = t.deal;
    effects.push(...t.effects);
  }
  return { deal: d, effects };
}

describe("deal protocol", () => {
  it("records the maximum cost and the commission owed", () => {
    const d = fresh();
    expect(d.maxCost).toBe(10n * 60n * 2n);
    expect(d.commission).toBe((1200n * 250n) / 10_000n);
    expect(d.status).toBe("proposed");
  });

  it("goes proposed → accepted → active → completed, each step an event with a reason", () => {
    const { deal, effects } = run(fresh(), [
      [{ type: "ReceiveAccept", party: "provider" }, 10],
      [{ type: "ReceiveAccept", party: "requester" }, 20],
      [{ type: "ActionChannelReady" }, 30],
      [{ type: "ActionTunnelUp" }, 40],
      [{ type: "ActionUsage", paid: 600n, bytes: 1000 }, 30_000],
      [{ type: "ActionTick" }, 40 + 60_000],
    ]);
    expect(deal.status).toBe("completed");
    expect(deal.history.map((h) => h.status)).toEqual([
      "proposed",
      "accepted",
      "active",
      "completed",
    ]);
    expect(deal.history.every((h) => h.reason.length > 0)).toBe(true);
    expect(deal.commission).toBe((600n * 250n) / 10_000n);
    expect(effects).toContainEqual({
      type: "ReleaseFunds",
      requester: R,
      reserved: 1200n,
      spent: 600n,
    });
    expect(effects).toContainEqual({
      type: "RecordHistory",
      provider: P,
      outcome: "completed",
      bytes: 1000,
      uptimeS: 60,
    });
    // The rental is over: the offer can sell the same quantity again; the request is served.
    expect(effects).toContainEqual({ type: "RestoreQuantity", orderId: "0xo", quantity: 2 });
    expect(
      effects.some((e) => e.type === "RestoreQuantity" && e.orderId === ("0xr" as OrderId)),
    ).toBe(false);
  });

  it("a rejection gives the other side its quantity back", () => {
    const { deal, effects } = run(fresh(), [
      [{ type: "ReceiveReject", party: "provider", reason: "busy" }, 5],
    ]);
    expect(deal.status).toBe("rejected");
    expect(effects).toContainEqual({ type: "RestoreQuantity", orderId: "0xr", quantity: 2 });
    expect(
      effects.some((e) => e.type === "RestoreQuantity" && e.orderId === ("0xo" as OrderId)),
    ).toBe(false);
  });

  it("expires a silent side and restores the side that accepted", () => {
    const { deal, effects } = run(fresh(), [
      [{ type: "ReceiveAccept", party: "requester" }, 10],
      [{ type: "ActionTick" }, 999],
      [{ type: "ActionTick" }, 1000],
    ]);
    expect(deal.status).toBe("expired");
    expect(deal.reason).toContain("provider");
    expect(effects).toContainEqual({ type: "RestoreQuantity", orderId: "0xr", quantity: 2 });
    expect(effects).toContainEqual({
      type: "ReleaseFunds",
      requester: R,
      reserved: 1200n,
      spent: 0n,
    });
  });

  it("fails an accepted deal whose tunnel never comes up, restoring the requester", () => {
    const { deal, effects } = run(fresh(), [
      [{ type: "ReceiveAccept", party: "requester" }, 0],
      [{ type: "ReceiveAccept", party: "provider" }, 0],
      [{ type: "ActionChannelReady" }, 100],
      [{ type: "ActionTick" }, 2000],
    ]);
    expect(deal.status).toBe("failed");
    expect(deal.reason).toContain("tunnel");
    expect(effects).toContainEqual({ type: "RestoreQuantity", orderId: "0xr", quantity: 2 });
  });

  it("records an early teardown in the provider's history", () => {
    const { deal, effects } = run(fresh(), [
      [{ type: "ReceiveAccept", party: "requester" }, 0],
      [{ type: "ReceiveAccept", party: "provider" }, 0],
      [{ type: "ActionChannelReady" }, 0],
      [{ type: "ActionTunnelUp" }, 0],
      [
        { type: "ActionTornDown", by: "provider", reason: "payment late", paid: 100n, bytes: 5 },
        10_000,
      ],
    ]);
    expect(deal.status).toBe("failed");
    expect(effects).toContainEqual({
      type: "RecordHistory",
      provider: P,
      outcome: "torn-down",
      bytes: 5,
      uptimeS: 10,
    });
  });

  it.each([
    ["BAD_DEAL_STATE", [{ type: "ActionTunnelUp" }] as DealInput[]],
    [
      "ALREADY_ACCEPTED",
      [
        { type: "ReceiveAccept", party: "provider" },
        { type: "ReceiveAccept", party: "provider" },
      ] as DealInput[],
    ],
    ["BAD_DEAL_STATE", [{ type: "ActionRated" }] as DealInput[]],
  ])("refuses out-of-order input with %s", (code, inputs) => {
    let d = fresh();
    let last: ReturnType<typeof dealTransition> | undefined;
    for (const i of inputs) {
      last = dealTransition(d, i, ctx(1));
      if (last.ok) d = last.deal;
    }
    expect(last?.ok).toBe(false);
    expect(last && !last.ok && last.code).toBe(code);
  });
});
