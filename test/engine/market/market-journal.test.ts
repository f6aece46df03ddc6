import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { MarketService } from "../../../engine/market/api/index.ts";
import type { MarketCommand } from "../../../engine/market/core/index.ts";
import {
  type Address,
  type DealId,
  MarketError,
  type OrderId,
} from "../../../engine/market/types.ts";
import { offerSpec, requestSpec } from "./helpers/signing.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "tollway-market-"));
  dirs.push(d);
  return d;
}

const providers = ["a1", "a2", "a3"].map((s) => `0x${s.padStart(40, "0")}` as Address);
const requesters = ["b1", "b2"].map((s) => `0x${s.padStart(40, "0")}` as Address);

/** A random but valid-ish command stream: orders, cancels, deal answers, ticks, balances. */
const commandArb = fc.array(
  fc.oneof(
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
      .record({ deal: fc.nat(20), step: fc.constantFrom("ChannelReady", "TunnelUp") })
      .map((x) => ({ k: "progress" as const, ...x })),
    fc.record({ target: fc.nat(30) }).map((x) => ({ k: "cancel" as const, ...x })),
    fc
      .record({ r: fc.nat(1), amount: fc.integer({ min: 0, max: 50_000 }) })
      .map((x) => ({ k: "balance" as const, ...x })),
    fc.integer({ min: 1_000, max: 40_000 }).map((ms) => ({ k: "time" as const, ms })),
  ),
  { minLength: 20, maxLength: 80 },
);

describe("market journal", () => {
  it("a restarted market replays its journal into the same book, deals, wallets and profiles", async () => {
    await fc.assert(
      fc.asyncProperty(commandArb, async (steps) => {
        const dir = await tempDir();
        let clock = 1_000_000;
        const svc = await MarketService.open({
          dir,
          chainId: 31337,
          tickMs: 0,
          verifiers: 1,
          now: () => clock,
          timeouts: { acceptMs: 20_000, activateMs: 30_000 },
        });
        const orders: OrderId[] = [];
        let seq = 0;
        for (const s of steps) {
          let cmd: MarketCommand | undefined;
          const id = `0x${(++seq).toString(16).padStart(64, "0")}` as OrderId;
          if (s.k === "offer")
            cmd = {
              type: "PlaceOrder",
              id,
              spec: offerSpec(providers[s.p]!, {
                price: BigInt(s.price),
                quantity: s.q,
                country: s.cc,
                nonce: BigInt(seq),
              }),
            };
          else if (s.k === "request")
            cmd = {
              type: "PlaceOrder",
              id,
              spec: requestSpec(requesters[s.r]!, {
                maxPrice: BigInt(s.price),
                quantity: s.q,
                countries: [s.cc],
                nonce: BigInt(seq),
              }),
            };
          else if (s.k === "answer" || s.k === "progress") {
            const deal = svc.core.deal(`d-${s.deal}`);
            if (!deal) continue;
            if (s.k === "progress") cmd = { type: s.step as "TunnelUp", dealId: deal.id };
            else {
              const signer = s.side ? deal.provider : deal.requester;
              cmd = s.accept
                ? { type: "AcceptDeal", digest: `0xacc${seq}`, dealId: deal.id as DealId, signer }
                : {
                    type: "RejectDeal",
                    digest: `0xrej${seq}`,
                    dealId: deal.id as DealId,
                    signer,
                    reason: "no",
                  };
            }
          } else if (s.k === "cancel") {
            const target = orders[s.target % Math.max(1, orders.length)];
            if (!target) continue;
            const owner = svc.core.order(target)!.spec.owner;
            cmd = {
              type: "CancelOrder",
              digest: `0xcan${seq}`,
              orderId: target,
              signer: owner,
              expiry: 4e9,
            };
          } else if (s.k === "balance")
            cmd = { type: "SetBalance", address: requesters[s.r]!, balance: BigInt(s.amount) };
          else {
            clock += s.ms;
            await svc.tick();
            continue;
          }
          try {
            await svc.execute(cmd);
            if (cmd.type === "PlaceOrder") orders.push(cmd.id);
          } catch (e) {
            // Refusals are part of the stream: they must change nothing and not be journaled.
            expect(e).toBeInstanceOf(MarketError);
          }
        }
        // Quantity is conserved: an open or filled order's quantity is what rests plus what
        // went into deals (deals that fell through gave theirs back).
        for (const id of orders) {
          const o = svc.core.order(id)!;
          if (o.status === "open" || o.status === "filled")
            expect(o.open + o.matched).toBe(o.spec.quantity);
          else expect(o.open).toBe(0);
        }
        const before = svc.core.fingerprint();
        await svc.close();
        const again = await MarketService.open({
          dir,
          chainId: 31337,
          tickMs: 0,
          verifiers: 1,
          now: () => clock,
          timeouts: { acceptMs: 20_000, activateMs: 30_000 },
        });
        expect(again.core.fingerprint()).toBe(before);
        await again.close();
      }),
      { numRuns: 15 },
    );
  });
});
