/**
 * The deal protocol, as a pure transition: `proposed` → both sides accept (signed) →
 * `accepted` → channel ready and tunnel up → `active` → `completed`; or `rejected`, `expired`,
 * `failed`, each with a reason. Timeouts come in as `ActionTick` with `ctx.now`: the core never
 * reads a clock. Whatever a deal did not use goes back to the order of the side that was not
 * at fault, as a `RestoreQuantity` effect; a completed rental gives the provider's offer its
 * quantity back, since the IPs or tunnels are free again.
 */
import { reject } from "../../../channels/index.ts";
import type { OrderKind, PriceUnit, Protocol } from "../book/attributes.ts";
import type { Address, DealId, MarketRejection, OrderId } from "../types.ts";

/** Where a deal stands. */
export type DealStatus =
  | "proposed"
  | "accepted"
  | "active"
  | "completed"
  | "rejected"
  | "expired"
  | "failed";

/** One side of a deal. */
export type Party = "provider" | "requester";

/** One status change, kept on the deal. */
export interface DealEvent {
  readonly status: DealStatus;
  readonly at: number;
  readonly reason: string;
}

/** A deal between one offer and one request. Amounts in token base units. */
export interface Deal {
  readonly id: DealId;
  readonly offerId: OrderId;
  readonly requestId: OrderId;
  readonly provider: Address;
  readonly requester: Address;
  readonly kind: OrderKind;
  readonly priceUnit: PriceUnit;
  readonly protocol: Protocol;
  /** Price per unit, the resting order's. */
  readonly price: bigint;
  readonly quantity: number;
  readonly durationS: number;
  /** GiB per unit at most (per-GiB deals). */
  readonly volumeGib: number;
  /** The most the deal can cost the requester: what is reserved while it runs. */
  readonly maxCost: bigint;
  readonly commissionBps: number;
  /** Commission owed to the platform: on `maxCost` until the deal ends, then on `paid`. */
  readonly commission: bigint;
  readonly status: DealStatus;
  readonly reason: string;
  readonly providerAccepted: boolean;
  readonly requesterAccepted: boolean;
  readonly channelReady: boolean;
  readonly tunnelUp: boolean;
  readonly createdAt: number;
  readonly acceptBy: number;
  readonly activateBy: number;
  /** When it became active (ms), or -1 while it never was. */
  readonly activeAt: number;
  readonly endsAt: number;
  readonly paid: bigint;
  readonly bytes: number;
  readonly rated: boolean;
  readonly history: readonly DealEvent[];
}

/** Timeouts of the protocol, milliseconds. */
export interface DealTimeouts {
  readonly acceptMs: number;
  readonly activateMs: number;
}

/** Inputs to a deal: from a party (`Receive*`) or from the local node and clock (`Action*`). */
export type DealInput =
  | { readonly type: "ReceiveAccept"; readonly party: Party }
  | { readonly type: "ReceiveReject"; readonly party: Party; readonly reason: string }
  | { readonly type: "ActionChannelReady" }
  | { readonly type: "ActionTunnelUp" }
  | { readonly type: "ActionUsage"; readonly paid: bigint; readonly bytes: number }
  | {
      readonly type: "ActionTornDown";
      readonly by: Party;
      readonly reason: string;
      readonly paid: bigint;
      readonly bytes: number;
    }
  | { readonly type: "ActionRated" }
  | { readonly type: "ActionTick" };

/** What the shell must do after a transition. */
export type DealEffect =
  | {
      readonly type: "NotifyDealStatus";
      readonly deal: Deal;
      readonly from: DealStatus;
      readonly to: DealStatus;
      readonly reason: string;
    }
  | {
      readonly type: "ReleaseFunds";
      readonly requester: Address;
      readonly reserved: bigint;
      readonly spent: bigint;
    }
  | {
      readonly type: "RestoreQuantity";
      readonly orderId: OrderId;
      readonly quantity: number;
    }
  | {
      readonly type: "RecordHistory";
      readonly provider: Address;
      readonly outcome: "completed" | "torn-down" | "failed";
      readonly bytes: number;
      readonly uptimeS: number;
    };

/** Time and settings of one transition. */
export interface DealContext {
  readonly now: number;
  readonly timeouts: DealTimeouts;
}

/** A transition's outcome. */
export type DealTransition =
  | { readonly ok: true; readonly deal: Deal; readonly effects: readonly DealEffect[] }
  | MarketRejection;

const TERMINAL: ReadonlySet<DealStatus> = new Set(["completed", "rejected", "expired", "failed"]);

/** Whether a deal has reached a final status. */
export function isTerminal(status: DealStatus): boolean {
  return TERMINAL.has(status);
}

/** Parameters of a new deal, from a fill. */
export interface ProposeParams {
  readonly id: DealId;
  readonly offerId: OrderId;
  readonly requestId: OrderId;
  readonly provider: Address;
  readonly requester: Address;
  readonly kind: OrderKind;
  readonly priceUnit: PriceUnit;
  readonly protocol: Protocol;
  readonly price: bigint;
  readonly quantity: number;
  readonly durationS: number;
  readonly volumeGib: number;
  readonly commissionBps: number;
}

/** The most a deal can cost: price × (seconds or GiB) × quantity. */
export function maxCostOf(p: {
  readonly priceUnit: PriceUnit;
  readonly price: bigint;
  readonly quantity: number;
  readonly durationS: number;
  readonly volumeGib: number;
}): bigint {
  const units = p.priceUnit === "second" ? p.durationS : p.volumeGib;
  return p.price * BigInt(units) * BigInt(p.quantity);
}

function commissionOn(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps)) / 10_000n;
}

/** Creates a deal in `proposed`, with its accept deadline. */
export function proposeDeal(
  p: ProposeParams,
  ctx: DealContext,
): { deal: Deal; effects: DealEffect[] } {
  const maxCost = maxCostOf(p);
  const deal: Deal = {
    ...p,
    maxCost,
    commission: commissionOn(maxCost, p.commissionBps),
    status: "proposed",
    reason: "matched",
    providerAccepted: false,
    requesterAccepted: false,
    channelReady: false,
    tunnelUp: false,
    createdAt: ctx.now,
    acceptBy: ctx.now + ctx.timeouts.acceptMs,
    activateBy: 0,
    activeAt: -1,
    endsAt: 0,
    paid: 0n,
    bytes: 0,
    rated: false,
    history: [{ status: "proposed", at: ctx.now, reason: "matched" }],
  };
  return {
    deal,
    effects: [
      { type: "NotifyDealStatus", deal, from: "proposed", to: "proposed", reason: "matched" },
    ],
  };
}

/**
 * Applies one input to a deal.
 * @returns the new deal and its effects, or a rejection (BAD_DEAL_STATE, ALREADY_ACCEPTED,
 * ALREADY_RATED) that changed nothing.
 */
export function dealTransition(deal: Deal, input: DealInput, ctx: DealContext): DealTransition {
  switch (input.type) {
    case "ReceiveAccept": {
      if (deal.status !== "proposed") return bad(deal, "accept");
      const already = input.party === "provider" ? deal.providerAccepted : deal.requesterAccepted;
      if (already) return reject("ALREADY_ACCEPTED", `${input.party} already accepted`);
      const next: Deal =
        input.party === "provider"
          ? { ...deal, providerAccepted: true }
          : { ...deal, requesterAccepted: true };
      if (next.providerAccepted && next.requesterAccepted) {
        return move(
          { ...next, activateBy: ctx.now + ctx.timeouts.activateMs },
          "accepted",
          "both sides accepted",
          ctx,
          [],
        );
      }
      return { ok: true, deal: next, effects: [] };
    }
    case "ReceiveReject": {
      if (deal.status !== "proposed") return bad(deal, "reject");
      // The rejecting side is at fault; the other side's order gets its quantity back.
      return move(deal, "rejected", `${input.party}: ${input.reason}`, ctx, [
        restoreFor(deal, other(input.party)),
        ...release(deal),
      ]);
    }
    case "ActionChannelReady":
    case "ActionTunnelUp": {
      if (deal.status !== "accepted") return bad(deal, input.type);
      const next: Deal =
        input.type === "ActionChannelReady"
          ? { ...deal, channelReady: true }
          : { ...deal, tunnelUp: true };
      if (next.channelReady && next.tunnelUp) {
        return move(
          { ...next, activeAt: ctx.now, endsAt: ctx.now + deal.durationS * 1000 },
          "active",
          "channel ready and tunnel up",
          ctx,
          [],
        );
      }
      return { ok: true, deal: next, effects: [] };
    }
    case "ActionUsage": {
      if (deal.status !== "active") return bad(deal, "usage");
      // Payments and counters only grow: a stale report must not lower them.
      if (input.paid < deal.paid || input.bytes < deal.bytes || input.paid > deal.maxCost) {
        return reject("INVALID_QUANTITY", "usage must grow and stay within the deal's cost");
      }
      return { ok: true, deal: { ...deal, paid: input.paid, bytes: input.bytes }, effects: [] };
    }
    case "ActionTornDown": {
      if (deal.status !== "active") return bad(deal, "teardown");
      if (input.paid < deal.paid || input.paid > deal.maxCost || input.bytes < deal.bytes) {
        return reject("INVALID_QUANTITY", "final usage must grow and stay within the cost");
      }
      const ended: Deal = { ...deal, paid: input.paid, bytes: input.bytes };
      return move(ended, "failed", `torn down by ${input.by}: ${input.reason}`, ctx, [
        restoreFor(deal, other(input.by)),
        ...release(ended),
        history(ended, "torn-down", ctx.now),
      ]);
    }
    case "ActionRated": {
      if (!isTerminal(deal.status)) return bad(deal, "rate");
      if (deal.rated) return reject("ALREADY_RATED", `deal ${deal.id} is already rated`);
      return { ok: true, deal: { ...deal, rated: true }, effects: [] };
    }
    case "ActionTick":
      return tick(deal, ctx);
  }
}

/**
 * When `ActionTick` would next move a deal on (its accept or activation deadline, or the end
 * of its rental); +Infinity when no timeout applies to its status.
 */
export function nextTimeout(deal: Deal): number {
  if (deal.status === "proposed") return deal.acceptBy;
  if (deal.status === "accepted") return deal.activateBy;
  if (deal.status === "active") return deal.endsAt;
  return Number.POSITIVE_INFINITY;
}

function tick(deal: Deal, ctx: DealContext): DealTransition {
  const now = ctx.now;
  if (deal.status === "proposed" && now >= deal.acceptBy) {
    // The silent side is at fault: a side that did accept gets its quantity back.
    const effects: DealEffect[] = [];
    if (deal.providerAccepted) effects.push(restoreFor(deal, "provider"));
    if (deal.requesterAccepted) effects.push(restoreFor(deal, "requester"));
    const silent =
      !deal.providerAccepted && !deal.requesterAccepted
        ? "both sides"
        : deal.providerAccepted
          ? "requester"
          : "provider";
    return move(deal, "expired", `no acceptance from ${silent}`, ctx, [
      ...effects,
      ...release(deal),
    ]);
  }
  if (deal.status === "accepted" && now >= deal.activateBy) {
    // The channel is the requester's job, the tunnel the provider's.
    const effects: DealEffect[] = [];
    if (deal.channelReady) effects.push(restoreFor(deal, "requester"));
    if (deal.tunnelUp) effects.push(restoreFor(deal, "provider"));
    const missing = [deal.channelReady ? "" : "channel", deal.tunnelUp ? "" : "tunnel"]
      .filter(Boolean)
      .join(" and ");
    return move(deal, "failed", `activation timeout: ${missing} not ready`, ctx, [
      ...effects,
      ...release(deal),
      history(deal, "failed", now),
    ]);
  }
  if (deal.status === "active" && now >= deal.endsAt) {
    // The rental is over: the provider's IPs or tunnels can be rented again while its offer lasts.
    return move(deal, "completed", "duration elapsed", ctx, [
      restoreFor(deal, "provider"),
      ...release(deal),
      history(deal, "completed", now),
    ]);
  }
  return { ok: true, deal, effects: [] };
}

function move(
  deal: Deal,
  to: DealStatus,
  reason: string,
  ctx: DealContext,
  effects: DealEffect[],
): DealTransition {
  const ended = isTerminal(to);
  const next: Deal = {
    ...deal,
    status: to,
    reason,
    commission: ended ? commissionOn(deal.paid, deal.commissionBps) : deal.commission,
    history: [...deal.history, { status: to, at: ctx.now, reason }],
  };
  return {
    ok: true,
    deal: next,
    effects: [
      ...effects.filter((e) => e.type !== "RestoreQuantity" || e.quantity > 0),
      { type: "NotifyDealStatus", deal: next, from: deal.status, to, reason },
    ],
  };
}

function bad(deal: Deal, what: string): MarketRejection {
  return reject("BAD_DEAL_STATE", `cannot ${what} a deal that is ${deal.status}`);
}

function other(p: Party): Party {
  return p === "provider" ? "requester" : "provider";
}

function restoreFor(deal: Deal, side: Party): DealEffect {
  return {
    type: "RestoreQuantity",
    orderId: side === "provider" ? deal.offerId : deal.requestId,
    quantity: deal.quantity,
  };
}

/** Funds are reserved once the requester has accepted; they are released at the end. */
function release(deal: Deal): DealEffect[] {
  if (!deal.requesterAccepted) return [];
  return [
    { type: "ReleaseFunds", requester: deal.requester, reserved: deal.maxCost, spent: deal.paid },
  ];
}

function history(
  deal: Deal,
  outcome: "completed" | "torn-down" | "failed",
  now: number,
): DealEffect {
  const uptimeS = deal.activeAt >= 0 ? Math.max(0, Math.floor((now - deal.activeAt) / 1000)) : 0;
  return { type: "RecordHistory", provider: deal.provider, outcome, bytes: deal.bytes, uptimeS };
}
