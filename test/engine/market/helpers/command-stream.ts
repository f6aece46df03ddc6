/**
 * Random command streams for the market core: orders, cancels, deal answers and progress,
 * balances and the passing of time. Steps are data; `toCommand` turns one into a command
 * against the core as it stands (deal and order references are resolved there).
 */
import fc from "fast-check";
import type { MarketCommand, MarketCore } from "../../../../engine/market/core/index.ts";
import type { Address, DealId, OrderId } from "../../../../engine/market/types.ts";
import { offerSpec, requestSpec } from "./signing.ts";

export const providers = ["a1", "a2", "a3"].map((s) => `0x${s.padStart(40, "0")}` as Address);
export const requesters = ["b1", "b2"].map((s) => `0x${s.padStart(40, "0")}` as Address);

/** One step of a stream. */
export type Step =
  | { k: "offer"; p: number; price: number; q: number; cc: string }
  | { k: "request"; r: number; price: number; q: number; cc: string }
  | { k: "answer"; deal: number; side: boolean; accept: boolean }
  | { k: "progress"; deal: number; step: "ChannelReady" | "TunnelUp" }
  | { k: "cancel"; target: number }
  | { k: "balance"; r: number; amount: number }
  | { k: "time"; ms: number };

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc
    .record({
      p: fc.nat(2),
      price: fc.integer({ min: 1, max: 9 }),
      q: fc.integer({ min: 1, max: 4 }),
      cc: fc.constantFrom("DE", "NL"),
    })
    .map((x) => ({ k: "offer" as const, ...x })),
  fc
    .record({
      r: fc.nat(1),
      price: fc.integer({ min: 1, max: 9 }),
      q: fc.integer({ min: 1, max: 4 }),
      cc: fc.constantFrom("DE", "NL"),
    })
    .map((x) => ({ k: "request" as const, ...x })),
  fc
    .record({ deal: fc.nat(20), side: fc.boolean(), accept: fc.boolean() })
    .map((x) => ({ k: "answer" as const, ...x })),
  fc
    .record({
      deal: fc.nat(20),
      step: fc.constantFrom("ChannelReady", "TunnelUp") as fc.Arbitrary<
        "ChannelReady" | "TunnelUp"
      >,
    })
    .map((x) => ({ k: "progress" as const, ...x })),
  fc.record({ target: fc.nat(30) }).map((x) => ({ k: "cancel" as const, ...x })),
  fc
    .record({ r: fc.nat(1), amount: fc.integer({ min: 0, max: 50_000 }) })
    .map((x) => ({ k: "balance" as const, ...x })),
  fc.integer({ min: 1_000, max: 40_000 }).map((ms) => ({ k: "time" as const, ms })),
);

/** A stream of 20–80 steps. */
export const streamArb = fc.array(stepArb, { minLength: 20, maxLength: 80 });

/** Turns steps into commands, keeping the ids it handed out. */
export class CommandMaker {
  readonly orders: OrderId[] = [];
  private seq = 0;

  /**
   * The command for a step against `core` as it stands; undefined when the step refers to
   * nothing yet, or is a passing of time (`time` steps are for the caller's clock).
   */
  toCommand(s: Step, core: MarketCore): MarketCommand | undefined {
    const n = ++this.seq;
    const id = `0x${n.toString(16).padStart(64, "0")}` as OrderId;
    switch (s.k) {
      case "offer":
        return {
          type: "PlaceOrder",
          id,
          spec: offerSpec(providers[s.p]!, {
            price: BigInt(s.price),
            quantity: s.q,
            country: s.cc,
            nonce: BigInt(n),
          }),
        };
      case "request":
        return {
          type: "PlaceOrder",
          id,
          spec: requestSpec(requesters[s.r]!, {
            maxPrice: BigInt(s.price),
            quantity: s.q,
            countries: [s.cc],
            nonce: BigInt(n),
          }),
        };
      case "answer":
      case "progress": {
        const deal = core.deal(`d-${s.deal}`);
        if (!deal) return undefined;
        if (s.k === "progress") return { type: s.step, dealId: deal.id };
        const signer = s.side ? deal.provider : deal.requester;
        return s.accept
          ? { type: "AcceptDeal", digest: `0xacc${n}`, dealId: deal.id as DealId, signer }
          : {
              type: "RejectDeal",
              digest: `0xrej${n}`,
              dealId: deal.id as DealId,
              signer,
              reason: "no",
            };
      }
      case "cancel": {
        const target = this.orders[s.target % Math.max(1, this.orders.length)];
        if (!target) return undefined;
        return {
          type: "CancelOrder",
          digest: `0xcan${n}`,
          orderId: target,
          signer: core.order(target)!.spec.owner,
          expiry: 4e9,
        };
      }
      case "balance":
        return { type: "SetBalance", address: requesters[s.r]!, balance: BigInt(s.amount) };
      case "time":
        return undefined;
    }
  }

  /** Notes a command that was accepted (placed orders become cancel targets). */
  accepted(cmd: MarketCommand): void {
    if (cmd.type === "PlaceOrder") this.orders.push(cmd.id);
  }
}
