import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChannelId } from "../../channels/types.ts";
import {
  leaseEndOf,
  openProviderSession,
  type ProviderSessionEffect,
  type ProviderSessionInput,
  type ProviderSessionState,
  providerSessionTransition,
  wakeAt,
} from "../../relay/session/provider-session.ts";
import {
  openRequesterSession,
  requesterSessionTransition,
} from "../../relay/session/requester-session.ts";
import type { SessionTerms } from "../../relay/session/terms.ts";

const cid = `0x${"01".repeat(32)}` as ChannelId;
const terms = (over: Partial<SessionTerms> = {}): SessionTerms => ({
  mode: "second",
  unitPrice: 10n,
  creditLimit: 20n,
  graceMs: 1000,
  tickMs: 1000,
  pollMs: 100,
  marginMs: 100,
  openTimeoutMs: 5000,
  ...over,
});

/** Frozen, so that a transition that edits the state it was given throws (ESM is strict). */
function run(s: ProviderSessionState, input: ProviderSessionInput, now: number) {
  return providerSessionTransition(Object.freeze(s), input, { now });
}
const types = (effects: readonly ProviderSessionEffect[]) => effects.map((e) => e.type);
const usage = (bytes: number) => ({ bytesIn: bytes, bytesOut: 0, packetsIn: 0, packetsOut: 0 });

function active(t: SessionTerms, paid: bigint, at = 0) {
  let s = openProviderSession({ sessionId: "s", channelId: cid, terms: t, base: 100n, now: at });
  s = run(s, { type: "ReceivePayment", nonce: 1n, transferred: 100n + paid }, at).state;
  return run(s, { type: "ActionTunnelUp", config: {} }, at).state;
}

describe("provider session core", () => {
  it("opens the tunnel only once the first unit is paid", () => {
    let s = openProviderSession({
      sessionId: "s",
      channelId: cid,
      terms: terms(),
      base: 100n,
      now: 0,
    });
    let r = run(s, { type: "ReceivePayment", nonce: 1n, transferred: 105n }, 1);
    expect(types(r.effects)).toEqual(["SendAck"]);
    s = r.state;
    r = run(s, { type: "ReceivePayment", nonce: 2n, transferred: 110n }, 2);
    expect(types(r.effects)).toEqual(["SendAck", "NotifyActivateTunnel"]);
    r = run(r.state, { type: "ActionTunnelUp", config: { port: 1 } }, 3);
    expect(types(r.effects)).toEqual(["SendReady", "NotifyTunnelLimits"]);
    expect(r.state.units).toBe(1n); // the first started second
  });

  it("drops a session whose first unit never comes", () => {
    const s = openProviderSession({
      sessionId: "s",
      channelId: cid,
      terms: terms(),
      base: 0n,
      now: 0,
    });
    expect(wakeAt(s)).toBe(5000);
    const r = run(s, { type: "ActionTick", usage: null }, 5000);
    expect(r.state.phase).toBe("closed");
    expect(r.state.closeCode).toBe("TIMEOUT");
    expect(types(r.effects)).not.toContain("NotifyDeactivateTunnel");
  });

  it("bills every started second, so a session of any length costs at least one", () => {
    const s = active(terms(), 10n);
    expect(run(s, { type: "ActionTick", usage: null }, 1).state.units).toBe(1n);
    expect(run(s, { type: "ActionTick", usage: null }, 999).state.units).toBe(1n);
    expect(run(s, { type: "ActionTick", usage: null }, 1000).state.units).toBe(2n);
    const closed = run(s, { type: "ReceiveClose", reason: "bye" }, 10);
    const note = closed.effects.find((e) => e.type === "NotifySessionClosed");
    expect(note && note.type === "NotifySessionClosed" && note.owed).toBe(10n);
  });

  it("warns when the credit is used up and tears down before an unpaid second starts", () => {
    // paid 10 + credit 20 covers 3 seconds: the third starts at 2000, the fourth at 3000.
    let s = active(terms(), 10n);
    expect(wakeAt(s)).toBe(1000);
    let r = run(s, { type: "ActionTick", usage: null }, 2000);
    expect(r.effects).toContainEqual({ type: "NotifyTunnelLimits", admit: false, maxUnits: null });
    expect(types(r.effects)).toContain("SendWarn");
    const warn = r.effects.find((e) => e.type === "SendWarn");
    expect(warn && warn.type === "SendWarn" && warn.teardownInMs).toBe(900);
    s = r.state;
    expect(s.deadline).toBe(2900);
    r = run(s, { type: "ActionTick", usage: null }, 2900);
    expect(r.state.phase).toBe("closed");
    expect(r.state.closeCode).toBe("CREDIT_EXHAUSTED");
    expect(types(r.effects)).toEqual([
      "NotifyDeactivateTunnel",
      "SendClose",
      "NotifySessionClosed",
    ]);
    expect(r.state.maxUnpaid).toBeLessThanOrEqual(20n);
  });

  it("a payment during the grace period lifts the warning", () => {
    let s = run(active(terms(), 10n), { type: "ActionTick", usage: null }, 2000).state;
    expect(s.deadline).not.toBeNull();
    s = run(s, { type: "ReceivePayment", nonce: 2n, transferred: 150n }, 2100).state;
    expect(s.deadline).toBeNull();
    expect(run(s, { type: "ActionTick", usage: null }, 2900).state.phase).toBe("active");
  });

  it("opens a fast-lane tunnel on credit, only when the credit covers the first unit", () => {
    const open = (t: SessionTerms) =>
      run(
        openProviderSession({ sessionId: "s", channelId: cid, terms: t, base: 0n, now: 0 }),
        {
          type: "ActionStart",
        },
        0,
      );
    expect(types(open(terms()).effects)).toEqual([]);
    expect(types(open(terms({ activateOnCredit: true, creditLimit: 9n })).effects)).toEqual([]);
    const r = open(terms({ activateOnCredit: true }));
    expect(types(r.effects)).toEqual(["NotifyActivateTunnel"]);
    const up = run(r.state, { type: "ActionTunnelUp", config: {} }, 5);
    expect(types(up.effects)).toEqual(["SendReady", "NotifyTunnelLimits"]);
    expect(up.state.paid).toBe(0n);
    expect(up.state.maxUnpaid).toBe(10n);
    // Nothing paid: the credit (two seconds) runs out and the lane goes.
    const warn = run(up.state, { type: "ActionTick", usage: null }, 1005);
    expect(types(warn.effects)).toContain("SendWarn");
    const end = run(warn.state, { type: "ActionTick", usage: null }, warn.state.deadline ?? 0);
    expect(end.state.closeCode).toBe("CREDIT_EXHAUSTED");
    expect(end.state.maxUnpaid).toBeLessThanOrEqual(20n);
  });

  it.each([
    [0n, 20n, 2_000],
    [10n, 20n, 3_000],
    [15n, 20n, 3_000],
    [100n, 0n, 10_000],
  ])("a lane paid %s with credit %s is leased until %s ms after activation", (paid, c, end) => {
    const t = terms({ creditLimit: c, activateOnCredit: true });
    let s = openProviderSession({ sessionId: "s", channelId: cid, terms: t, base: 0n, now: 0 });
    if (paid > 0n) s = run(s, { type: "ReceivePayment", nonce: 1n, transferred: paid }, 0).state;
    s = run(s, { type: "ActionStart" }, 0).state;
    expect(leaseEndOf(s)).toBeNull(); // not up yet
    s = run(s, { type: "ActionTunnelUp", config: {} }, 500).state;
    expect(leaseEndOf(s)).toBe(500 + end);
    expect(leaseEndOf(active(terms({ mode: "byte" }), 10n))).toBeNull();
  });

  it("hands counter modes a unit budget and refuses new connections at the limit", () => {
    const t = terms({ mode: "byte", unitPrice: 1n, creditLimit: 1000n, graceMs: 300 });
    let s = openProviderSession({ sessionId: "s", channelId: cid, terms: t, base: 0n, now: 0 });
    s = run(s, { type: "ReceivePayment", nonce: 1n, transferred: 500n }, 0).state;
    const up = run(s, { type: "ActionTunnelUp", config: {} }, 0);
    expect(up.effects).toContainEqual({ type: "NotifyTunnelLimits", admit: true, maxUnits: 1500n });
    const r = run(up.state, { type: "ActionTick", usage: usage(1500) }, 50);
    expect(r.effects).toContainEqual({ type: "NotifyTunnelLimits", admit: false, maxUnits: 1500n });
    expect(r.effects.map((e) => e.type)).toContain("SendWarn");
    expect(r.state.deadline).toBe(350);
    expect(run(r.state, { type: "ActionTick", usage: usage(1500) }, 350).state.closeCode).toBe(
      "CREDIT_EXHAUSTED",
    );
  });

  it("exposure never exceeds the credit limit, whatever the payments (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("second", "byte", "packet"),
        fc.bigInt({ min: 1n, max: 50n }),
        fc.bigInt({ min: 0n, max: 200n }),
        fc.boolean(),
        fc.array(
          fc.record({
            dt: fc.integer({ min: 1, max: 700 }),
            pay: fc.bigInt({ min: 0n, max: 120n }),
            traffic: fc.integer({ min: 0, max: 400 }),
          }),
          { maxLength: 60 },
        ),
        (mode, price, credit, onCredit, steps) => {
          const t = terms({
            mode,
            unitPrice: price,
            creditLimit: credit,
            graceMs: 800,
            activateOnCredit: onCredit,
          });
          let s = openProviderSession({
            sessionId: "s",
            channelId: cid,
            terms: t,
            base: 0n,
            now: 0,
          });
          let now = 0;
          let transferred = 0n;
          let nonce = 0n;
          s = run(s, { type: "ActionStart" }, now).state;
          if (s.phase === "opening") {
            // Not on credit: the first unit opens the tunnel.
            transferred = price;
            nonce = 1n;
            s = run(s, { type: "ReceivePayment", nonce, transferred }, now).state;
          }
          // A data plane that honours the budget, as the proxy does.
          let carried = 0;
          const plane: { limit: bigint | null } = { limit: null };
          const apply = (effects: readonly ProviderSessionEffect[]) => {
            for (const e of effects) if (e.type === "NotifyTunnelLimits") plane.limit = e.maxUnits;
          };
          const up = run(s, { type: "ActionTunnelUp", config: {} }, now);
          apply(up.effects);
          s = up.state;
          for (const step of steps) {
            if (s.phase === "closed") break;
            // The shell never sleeps past the session's wake time.
            const wake = wakeAt(s) ?? Number.POSITIVE_INFINITY;
            now = Math.min(now + step.dt, wake);
            const room =
              plane.limit === null
                ? step.traffic
                : Math.max(0, Math.min(step.traffic, Number(plane.limit) - carried));
            carried += room;
            const reading = { bytesIn: carried, bytesOut: 0, packetsIn: carried, packetsOut: 0 };
            let r = run(s, { type: "ActionTick", usage: mode === "second" ? null : reading }, now);
            apply(r.effects);
            s = r.state;
            if (step.pay > 0n && s.phase !== "closed") {
              transferred += step.pay;
              nonce++;
              r = run(s, { type: "ReceivePayment", nonce, transferred }, now);
              apply(r.effects);
              s = r.state;
            }
            expect(s.maxUnpaid).toBeLessThanOrEqual(credit);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("requester session core", () => {
  const rterms = {
    mode: "byte" as const,
    unitPrice: 2n,
    prepayUnits: 100n,
    tolerance: { ratio: 0.1, units: 10n },
  };

  it("pays the first unit and the prepay before READY, then ahead of its own counters", () => {
    let s = openRequesterSession(rterms, 50n);
    let r = requesterSessionTransition(s, { type: "ActionStart" }, { now: 0 });
    expect(r.effects).toEqual([]); // nothing before the provider accepts
    r = requesterSessionTransition(
      r.state,
      {
        type: "ReceiveAccept",
        sessionId: "s1",
        ackedNonce: 0n,
        ackedTransferred: 50n,
        billed: 50n,
      },
      { now: 0 },
    );
    expect(r.effects).toEqual([{ type: "SendPay", amount: 200n }]);
    s = requesterSessionTransition(
      r.state,
      { type: "ReceiveReady", ackedNonce: 1n, ackedTransferred: 250n },
      { now: 5 },
    ).state;
    r = requesterSessionTransition(s, { type: "ActionMeter", units: 300n }, { now: 10 });
    expect(r.effects).toEqual([{ type: "SendPay", amount: 600n }]); // (300 + 100) · 2 − 200
  });

  it("opened paused, pays nothing until resumed, then every started second ahead", () => {
    const t = { ...rterms, mode: "second" as const, unitPrice: 10n, prepayUnits: 1n };
    let r = requesterSessionTransition(
      openRequesterSession(t, 0n, false),
      { type: "ActionStart" },
      {
        now: 0,
      },
    );
    expect(r.effects).toEqual([]);
    r = requesterSessionTransition(
      r.state,
      { type: "ReceiveReady", ackedNonce: 0n, ackedTransferred: 0n },
      { now: 10 },
    );
    expect(r.effects).toEqual([{ type: "NotifyReady" }]);
    r = requesterSessionTransition(
      r.state,
      { type: "ActionSetPaying", paying: true },
      { now: 1500 },
    );
    expect(r.effects).toEqual([{ type: "SendPay", amount: 30n }]); // two started seconds + one
  });

  it("refuses to pay an over-claim and ends the session with USAGE_OVERCLAIM", () => {
    let s = openRequesterSession(rterms, 0n);
    s = requesterSessionTransition(
      s,
      { type: "ReceiveReady", ackedNonce: 0n, ackedTransferred: 0n },
      { now: 0 },
    ).state;
    s = requesterSessionTransition(s, { type: "ActionMeter", units: 1000n }, { now: 1 }).state;
    const ok = requesterSessionTransition(
      s,
      { type: "ReceiveUsage", units: 1110n, owed: 2220n },
      { now: 2 },
    );
    expect(ok.state.phase).toBe("active");
    expect(ok.effects[0]?.type).toBe("NotifyUsage");
    const over = requesterSessionTransition(
      ok.state,
      { type: "ReceiveUsage", units: 1111n, owed: 2222n },
      { now: 3 },
    );
    expect(over.state.phase).toBe("closed");
    expect(over.effects.map((e) => e.type)).toEqual(["SendClose", "NotifyClosed"]);
    expect(over.effects.some((e) => e.type === "SendPay")).toBe(false);
  });

  it("second mode counts started seconds since READY on its own clock", () => {
    let s = openRequesterSession(
      { ...rterms, mode: "second", prepayUnits: 1n, unitPrice: 10n },
      0n,
    );
    s = requesterSessionTransition(s, { type: "ActionStart" }, { now: 0 }).state;
    s = requesterSessionTransition(
      s,
      { type: "ReceiveReady", ackedNonce: 1n, ackedTransferred: 10n },
      { now: 100 },
    ).state;
    expect(s.signed).toBe(20n); // one second started at READY, plus one ahead
    const r = requesterSessionTransition(s, { type: "ActionMeter", units: null }, { now: 1100 });
    expect(r.state.ownUnits).toBe(2n);
    expect(r.effects).toEqual([{ type: "SendPay", amount: 10n }]); // (2 + 1) · 10 − 20
  });
  it("bills the seconds started since the last payment when it closes", () => {
    let s = openRequesterSession(
      { ...rterms, mode: "second", prepayUnits: 1n, unitPrice: 10n },
      0n,
    );
    s = requesterSessionTransition(s, { type: "ActionStart" }, { now: 0 }).state;
    s = requesterSessionTransition(
      s,
      { type: "ReceiveReady", ackedNonce: 1n, ackedTransferred: 10n },
      { now: 100 },
    ).state;
    expect(s.signed).toBe(20n);
    // Closing 2.4 s after READY: three seconds were started, two were paid.
    const r = requesterSessionTransition(s, { type: "ActionClose", reason: "done" }, { now: 2500 });
    expect(r.effects.map((e) => e.type)).toEqual(["SendPay", "SendClose", "NotifyClosed"]);
    expect(r.effects[0]).toEqual({ type: "SendPay", amount: 10n });
    expect(r.state.phase).toBe("closed");
  });

  it("still records the acknowledgement of the closing payment", () => {
    let s = openRequesterSession(rterms, 0n);
    s = requesterSessionTransition(
      s,
      { type: "ReceiveReady", ackedNonce: 1n, ackedTransferred: 200n },
      { now: 0 },
    ).state;
    s = requesterSessionTransition(s, { type: "ActionClose", reason: "done" }, { now: 1 }).state;
    const r = requesterSessionTransition(
      s,
      { type: "ReceiveAck", nonce: 2n, transferred: 300n },
      { now: 2 },
    );
    expect(r.state.ackedNonce).toBe(2n);
    expect(r.effects).toEqual([{ type: "NotifyAck", nonce: 2n, transferred: 300n }]);
    // Nothing else moves a closed session.
    expect(
      requesterSessionTransition(r.state, { type: "ActionMeter", units: 10_000n }, { now: 3 })
        .effects,
    ).toEqual([]);
  });
});
