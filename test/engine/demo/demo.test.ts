import { describe, expect, it } from "vitest";
import { runDemo } from "../../../engine/demo/index.ts";

describe("the demo scenario, in process", () => {
  it("pays per second and per byte, and the on-chain balances equal what the acknowledged proofs say, to the unit", async () => {
    const phases = new Set<string>();
    const s = await runDemo({ seconds: 2, pages: 6, onProgress: (p) => phases.add(p.phase) });
    expect(s.interrupted).toBe(false);
    expect(s.proofsSent).toBeGreaterThanOrEqual(3);
    expect(s.proofsAcked).toBe(s.proofsSent);
    expect(s.bytesCrawled).toBeGreaterThan(6 * 32 * 1024);
    expect(s.paidOffChain).toBeGreaterThan(0n);
    expect(s.paidOnChain).toBe(s.paidOffChain);
    expect(s.balances.provider.after - s.balances.provider.before).toBe(s.paidOffChain);
    expect(s.balances.requester.before - s.balances.requester.after).toBe(s.paidOffChain);
    expect(s.sessions.map((x) => x.mode)).toEqual(["second", "byte"]);
    // Credit is the channel's: the byte session is paid first from what the per-second one paid
    // ahead and did not use (up to a second, more than this run's bytes cost), never refunded.
    const byteSession = s.sessions[1]!;
    expect(byteSession.signed).toBeGreaterThanOrEqual(s.sessions[0]!.signed);
    expect(Object.keys(s.gas).sort()).toEqual(["cooperativeClose", "openWithPermit"]);
    expect(s.deal?.id).toBeDefined();
    expect([...phases]).toContain("crawling, paying per byte");
  });

  it("stops early when interrupted, and still settles what is open", async () => {
    const abort = new AbortController();
    const pending = runDemo({
      seconds: 60,
      pages: 1000,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase.startsWith("crawling") && p.proofsAcked >= 2) abort.abort();
      },
    });
    const s = await pending;
    expect(s.interrupted).toBe(true);
    expect(s.durationMs).toBeLessThan(30_000);
    expect(s.paidOnChain).toBe(s.paidOffChain);
    expect(s.transactions.map((t) => t.step)).toContain("cooperative close");
  });
});
