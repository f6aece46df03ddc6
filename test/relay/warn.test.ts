/**
 * WARN reaches a late payer: the session clock is fractional (`performance.now()`), the wire's
 * `teardownInMs` is an integer, and the requester's validator drops a frame that breaks that.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChannelId } from "../../channels/types.ts";
import { connect } from "../../relay/requester/client.ts";
import {
  openProviderSession,
  type ProviderSessionEffect,
  providerSessionTransition,
} from "../../relay/session/provider-session.ts";
import type { SessionTerms } from "../../relay/session/terms.ts";
import { decodeFrame, encodeFrame } from "../../relay/wire/codec.ts";
import { keyOf, removeDir, startProvider, type TestProvider } from "./helpers.ts";

let p: TestProvider;
beforeAll(async () => {
  p = await startProvider({
    // The default clock, performance.now(): fractional, so the deadline (the session's start
    // plus whole seconds) is a fractional number of milliseconds away.
    pricing: { second: { unitPrice: 10n, creditLimit: 10n, graceMs: 5_000, marginMs: 100 } },
  });
});
afterAll(async () => {
  await p.stop();
  removeDir(p.dir);
});

describe("WARN", () => {
  it("reaches a requester that stops paying, as whole milliseconds, before the teardown", async () => {
    const key = keyOf("late-payer");
    const client = await connect({ key, url: p.node.url });
    const session = await client.openSession({
      channel: p.channel(key, 1_000_000n),
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    const warned = new Promise<{ teardownInMs: number; unpaid: bigint }>((resolve) =>
      session.once("warn", resolve),
    );
    session.stopPaying();
    const end = session.closed.then((e) => e.code);
    const first = await Promise.race([warned, end]);
    expect(typeof first).toBe("object");
    const warn = first as { teardownInMs: number; unpaid: bigint };
    expect(Number.isInteger(warn.teardownInMs)).toBe(true);
    expect(warn.teardownInMs).toBeGreaterThanOrEqual(0);
    expect(await end).toBe("CREDIT_EXHAUSTED");
    await client.close();
  });
});

describe("the session core's WARN", () => {
  const terms = (mode: SessionTerms["mode"], graceMs: number): SessionTerms => ({
    mode,
    unitPrice: 10n,
    creditLimit: 20n,
    graceMs,
    tickMs: 1_000,
    pollMs: 100,
    marginMs: 100,
    openTimeoutMs: 5_000,
  });
  const cid = `0x${"02".repeat(32)}` as ChannelId;

  it("says whole milliseconds the wire accepts, never more than is left (property)", () => {
    let warned = 0;
    fc.assert(
      fc.property(
        fc.constantFrom("second", "byte", "packet"),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.double({ min: 0, max: 3_000, noNaN: true }), { minLength: 1, maxLength: 6 }),
        (mode, start, afterOpen, graceMs, steps) => {
          let s = openProviderSession({
            sessionId: "s",
            channelId: cid,
            terms: terms(mode, graceMs),
            base: 0n,
            now: start,
          });
          let now = start + afterOpen;
          let r = providerSessionTransition(s, { type: "ActionStart" }, { now });
          r = providerSessionTransition(
            r.state,
            { type: "ReceivePayment", nonce: 1n, transferred: 10n },
            { now },
          );
          r = providerSessionTransition(r.state, { type: "ActionTunnelUp", config: {} }, { now });
          s = r.state;
          const warns: ProviderSessionEffect[] = [];
          for (const step of steps) {
            now += step;
            const usage = { bytesIn: Math.floor(now), bytesOut: 0, packetsIn: 9, packetsOut: 0 };
            r = providerSessionTransition(s, { type: "ActionTick", usage }, { now });
            s = r.state;
            for (const e of r.effects) {
              if (e.type !== "SendWarn") continue;
              warns.push(e);
              expect(Number.isInteger(e.teardownInMs)).toBe(true);
              expect(now + e.teardownInMs).toBeLessThanOrEqual(s.deadline!);
              const { teardownInMs, unpaid } = e;
              const wire = decodeFrame(
                encodeFrame({ type: "WARN", sessionId: "s", teardownInMs, unpaid }),
              );
              expect(wire.ok).toBe(true);
            }
          }
          warned += warns.length;
          return warns.length <= 1;
        },
      ),
      { numRuns: 500 },
    );
    // The runs did reach the credit's end, most of them.
    expect(warned).toBeGreaterThan(100);
  });
});
