/**
 * The session cores across sessions and restarts: a provider session opens owing its channel's
 * debt and gets no tunnel before it is paid, so that over any sequence of sessions the channel
 * owes at most one credit window (property); the requester core signs nothing before ACCEPT,
 * builds on the amount ACCEPT names, sends an unacknowledged proof again instead of signing a
 * new one, and pays nothing while the link is lost.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChannelId } from "../../channels/types.ts";
import { balanceOf } from "../../relay/provider/debt-ledger.ts";
import {
  billedOf,
  openProviderSession,
  type ProviderSessionEffect,
  type ProviderSessionInput,
  type ProviderSessionState,
  providerSessionTransition,
  wakeAt,
} from "../../relay/session/provider-session.ts";
import {
  openRequesterSession,
  type RequesterSessionInput,
  type RequesterSessionState,
  requesterSessionTransition,
} from "../../relay/session/requester-session.ts";
import type { SessionTerms } from "../../relay/session/terms.ts";

const cid = `0x${"02".repeat(32)}` as ChannelId;
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
const run = (s: ProviderSessionState, input: ProviderSessionInput, now: number) =>
  providerSessionTransition(Object.freeze(s), input, { now });
const types = (effects: readonly { type: string }[]) => effects.map((e) => e.type);

describe("provider session with a carried debt", () => {
  it("opens only once the debt and the first unit are paid", () => {
    let s = openProviderSession({
      sessionId: "s",
      channelId: cid,
      terms: terms(),
      base: 100n,
      carried: 20n,
      now: 0,
    });
    expect(billedOf(s)).toBe(120n);
    // One unit, as a fresh session would need: not enough.
    let r = run(s, { type: "ReceivePayment", nonce: 1n, transferred: 110n }, 1);
    expect(types(r.effects)).toEqual(["SendAck"]);
    s = r.state;
    r = run(s, { type: "ReceivePayment", nonce: 2n, transferred: 130n }, 2);
    expect(types(r.effects)).toEqual(["SendAck", "NotifyActivateTunnel"]);
    const up = run(r.state, { type: "ActionTunnelUp", config: {} }, 3).state;
    // paid 30 − debt 20 + credit 20 covers three seconds: the third starts at 2003.
    const warned = run(up, { type: "ActionTick", usage: null }, 2003);
    expect(types(warned.effects)).toContain("SendWarn");
    expect(warned.state.maxUnpaid).toBeLessThanOrEqual(20n);
  });

  it("opens a lane on credit only with the credit the debt leaves", () => {
    const onCredit = terms({ activateOnCredit: true, creditLimit: 20n });
    const open = (carried: bigint) =>
      run(
        openProviderSession({
          sessionId: "s",
          channelId: cid,
          terms: onCredit,
          base: 0n,
          carried,
          now: 0,
        }),
        { type: "ActionStart" },
        0,
      );
    expect(types(open(10n).effects)).toEqual(["NotifyActivateTunnel"]);
    const indebted = open(11n);
    expect(types(indebted.effects)).toEqual([]);
    // Paying the debt down to what leaves a unit of credit opens it.
    const paid = run(indebted.state, { type: "ReceivePayment", nonce: 1n, transferred: 1n }, 1);
    expect(types(paid.effects)).toEqual(["SendAck", "NotifyActivateTunnel"]);
  });

  it("over any sequence of sessions, the channel never owes more than one window (property)", () => {
    const step = fc.record({
      dt: fc.integer({ min: 1, max: 900 }),
      pay: fc.bigInt({ min: 0n, max: 40n }),
      traffic: fc.integer({ min: 0, max: 60 }),
    });
    const session = fc.record({
      firstPay: fc.bigInt({ min: 0n, max: 60n }),
      steps: fc.array(step, { maxLength: 25 }),
      peerCloses: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.constantFrom("second", "byte"),
        fc.bigInt({ min: 1n, max: 10n }),
        fc.bigInt({ min: 0n, max: 40n }),
        fc.boolean(),
        fc.array(session, { minLength: 1, maxLength: 6 }),
        (mode, price, credit, onCredit, sessions) => {
          const t = terms({
            mode,
            unitPrice: price,
            creditLimit: credit,
            graceMs: 500,
            openTimeoutMs: 2000,
            activateOnCredit: onCredit,
          });
          // The channel as the node keeps it: durable amount, billed mark.
          let transferred = 0n;
          let nonce = 0n;
          let billedTo = 0n;
          let now = 0;
          // The model: every unit any session carried, at its price, against every payment.
          let consumedBefore = 0n;
          const owes = (s: ProviderSessionState) => consumedBefore + s.units * price - transferred;
          for (const plan of sessions) {
            let s = openProviderSession({
              sessionId: "s",
              channelId: cid,
              terms: t,
              base: transferred,
              carried: balanceOf(billedTo, transferred),
              now,
            });
            let counted = 0;
            let limit: bigint | null = null;
            // What the shell does with every result: the budget for the data plane, the tunnel
            // up when asked, the billed mark moved at USAGE and at the close.
            const apply = (effects: readonly ProviderSessionEffect[]) => {
              for (const e of effects) {
                if (e.type === "NotifyTunnelLimits") limit = e.maxUnits;
                if (e.type === "SendUsage" || e.type === "NotifySessionClosed") {
                  if (billedOf(s) > billedTo) billedTo = billedOf(s);
                }
              }
              if (effects.some((e) => e.type === "NotifyActivateTunnel")) {
                const up = run(s, { type: "ActionTunnelUp", config: {} }, now);
                s = up.state;
                apply(up.effects);
              }
            };
            const feed = (input: ProviderSessionInput) => {
              const r = run(s, input, now);
              s = r.state;
              apply(r.effects);
            };
            const pay = (amount: bigint) => {
              if (amount === 0n || s.phase === "closed") return;
              transferred += amount;
              feed({ type: "ReceivePayment", nonce: ++nonce, transferred });
            };
            feed({ type: "ActionStart" });
            pay(plan.firstPay);
            for (const st of plan.steps) {
              if (s.phase === "closed") break;
              // The shell never sleeps past the session's wake time.
              now = Math.min(now + st.dt, wakeAt(s) ?? Number.POSITIVE_INFINITY);
              // Traffic flows only through a tunnel that is up, within the driver's budget.
              const room =
                s.phase !== "active"
                  ? 0
                  : limit === null
                    ? st.traffic
                    : Math.max(0, Math.min(st.traffic, Number(limit) - counted));
              counted += room;
              const usage = { bytesIn: counted, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
              feed({ type: "ActionTick", usage: mode === "second" ? null : usage });
              pay(st.pay);
              expect(owes(s)).toBeLessThanOrEqual(credit);
              // The node's own account of it agrees with the model.
              expect(billedOf(s) - s.base - s.paid).toBe(owes(s));
            }
            if (s.phase !== "closed") {
              now += 1;
              feed(
                plan.peerCloses
                  ? { type: "ReceiveClose", reason: "bye" }
                  : { type: "ActionClose", code: "SESSION_REPLACED", reason: "replaced" },
              );
            }
            // Total owed minus total paid on the channel, across every session so far.
            expect(owes(s)).toBeLessThanOrEqual(credit);
            expect(balanceOf(billedTo, transferred)).toBe(owes(s));
            consumedBefore += s.units * price;
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("requester session across restarts", () => {
  const t = {
    mode: "second" as const,
    unitPrice: 10n,
    prepayUnits: 1n,
    tolerance: { ratio: 0.05, units: 1n },
  };
  const step = (s: RequesterSessionState, input: RequesterSessionInput, now: number) =>
    requesterSessionTransition(Object.freeze(s), input, { now });
  const accept = (sessionId: string, acked: bigint, billed: bigint): RequesterSessionInput => ({
    type: "ReceiveAccept",
    sessionId,
    ackedNonce: 1n,
    ackedTransferred: acked,
    billed,
  });

  it("builds its first payment on what ACCEPT names, not on what it signed", () => {
    // Restarted: 50 signed, the provider holds 30 and billed the channel to 45.
    let r = step(openRequesterSession(t, 50n), { type: "ActionStart" }, 0);
    expect(r.effects).toEqual([]);
    r = step(r.state, accept("a", 30n, 45n), 0);
    // 45 + one unit = 55: five more than already signed.
    expect(r.effects).toEqual([{ type: "SendPay", amount: 5n }]);
    // Signed beyond it already: the proof the provider lacks goes again, nothing new is signed.
    r = step(
      step(openRequesterSession(t, 80n), { type: "ActionStart" }, 0).state,
      accept("b", 30n, 45n),
      0,
    );
    expect(r.effects).toEqual([{ type: "ResendLatest" }]);
    expect(r.state.signed).toBe(80n);
  });

  it("pays nothing while the link is lost, and starts over in a new provider session", () => {
    let s = step(openRequesterSession(t, 0n), accept("a", 0n, 0n), 0).state;
    s = step(
      s,
      { type: "ReceiveReady", sessionId: "a", ackedNonce: 1n, ackedTransferred: 10n },
      0,
    ).state;
    expect(s.signed).toBe(20n);
    s = step(s, { type: "ActionLinkLost" }, 100).state;
    const idle = step(s, { type: "ActionMeter", units: null }, 5_000);
    expect(idle.effects).toEqual([]);
    // The provider restarted: a new session on the channel, billed to 30 (its ledger).
    let r = step(idle.state, accept("b", 20n, 30n), 6_000);
    expect(r.state.phase).toBe("opening");
    expect(r.effects).toEqual([{ type: "SendPay", amount: 20n }]); // 30 + one unit − 20
    r = step(
      r.state,
      { type: "ReceiveReady", sessionId: "b", ackedNonce: 3n, ackedTransferred: 40n },
      6_100,
    );
    // Seconds count from the new READY: one started, one ahead.
    expect(r.state.signed).toBe(50n);
    expect(step(r.state, { type: "ActionMeter", units: null }, 6_500).effects).toEqual([]);
  });

  it("counts a counter mode's units from the new session's start", () => {
    const bt = {
      ...t,
      mode: "byte" as const,
      unitPrice: 1n,
      prepayUnits: 100n,
      tolerance: { ratio: 0, units: 0n },
    };
    let s = step(openRequesterSession(bt, 0n), accept("a", 0n, 0n), 0).state;
    s = step(
      s,
      { type: "ReceiveReady", sessionId: "a", ackedNonce: 1n, ackedTransferred: 100n },
      0,
    ).state;
    s = step(s, { type: "ActionMeter", units: 500n }, 1).state;
    expect(s.signed).toBe(600n);
    s = step(s, { type: "ActionLinkLost" }, 2).state;
    s = step(s, accept("b", 600n, 600n), 3).state;
    s = step(
      s,
      { type: "ReceiveReady", sessionId: "b", ackedNonce: 3n, ackedTransferred: 700n },
      4,
    ).state;
    // A claim of 50 units in the new session is checked against 550 − 500, not 550.
    s = step(s, { type: "ActionMeter", units: 550n }, 5).state;
    const ok = step(s, { type: "ReceiveUsage", units: 50n, owed: 50n }, 6);
    expect(ok.state.phase).toBe("active");
    const over = step(s, { type: "ReceiveUsage", units: 51n, owed: 51n }, 6);
    expect(over.state.closeCode).toBe("USAGE_OVERCLAIM");
  });
});
