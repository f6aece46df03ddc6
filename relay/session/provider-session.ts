/**
 * The provider's side of a payment session as a pure `transition(state, input, ctx)`: metering,
 * what is owed, the first unit paid before the tunnel opens (or, for fast-lane hops, the first
 * unit on credit), the credit window with its WARN and
 * teardown deadline, and USAGE reports. Time comes from `ctx.now` (ms), counters from inputs.
 *
 * The invariant (property-tested): while the tunnel is up, `owed − paid <= creditLimit`, given
 * that the shell carries out a teardown by its deadline. Credit is the channel's, not the
 * session's: a session opens owing what earlier sessions of its channel left unpaid (`carried`),
 * pays that first, and only then gets its first unit and its window, so that opening sessions
 * one after another never adds up to more than one window of debt. What earlier sessions were
 * paid ahead and did not use is carried too, as a credit (`carried < 0`): it pays for the next
 * units, so that paying ahead in many short sessions does not add up either. Second mode knows in advance when the
 * next second starts and stops `marginMs` before the first one the credit cannot cover; counter
 * modes hand the driver a unit budget (`NotifyTunnelLimits`) so that the data plane itself stops
 * at the limit, and tear down `graceMs` after it was reached.
 */
import type { ChannelId } from "../../channels/index.ts";
import type { RelayErrorCode } from "../errors.ts";
import type { TunnelConfig, TunnelUsage } from "../tunnel/driver.ts";
import { coveredUnits, type SessionTerms, startedSeconds, unitsFromUsage } from "./terms.ts";

/** `opening`: waiting for the first unit; `activating`: the tunnel is coming up. */
export type SessionPhase = "opening" | "activating" | "active" | "closed";

/** One session as the provider sees it. */
export interface ProviderSessionState {
  readonly sessionId: string;
  readonly channelId: ChannelId;
  readonly terms: SessionTerms;
  readonly phase: SessionPhase;
  readonly openedAt: number;
  readonly activatedAt: number | null;
  /** The channel's durable transferred amount when the session opened. */
  readonly base: bigint;
  /**
   * Owed from the start: what earlier sessions of the channel left unpaid (billed, not paid), or,
   * when negative, what they were paid ahead and did not use.
   */
  readonly carried: bigint;
  /** Durable payments within this session (transferred − base). */
  readonly paid: bigint;
  /** Units consumed so far (frozen at close). */
  readonly units: bigint;
  /** When the credit could no longer cover the next unit (null: it can). */
  readonly exhaustedAt: number | null;
  /** Teardown time while exhausted. */
  readonly deadline: number | null;
  readonly nextUsageAt: number;
  readonly lastInputAt: number;
  readonly closedAt: number | null;
  readonly closeCode: RelayErrorCode | null;
  /** Largest `owed − paid` seen while the tunnel was up. */
  readonly maxUnpaid: bigint;
  /** Last unit budget handed to the driver (counter modes). */
  readonly limitUnits: bigint | null;
  /** Last admission flag handed to the driver (null: none yet). */
  readonly limitAdmit: boolean | null;
}

/** The time a transition runs at. */
export interface SessionContext {
  /** Milliseconds (any epoch, monotonic per node). */
  readonly now: number;
}

/** The session was just opened (activates at once when its terms allow it on credit). */
export interface ActionStart {
  readonly type: "ActionStart";
}
/** Periodic: counters read from the tunnel (null in second mode or before activation). */
export interface ActionTick {
  readonly type: "ActionTick";
  readonly usage: TunnelUsage | null;
}
/** A payment on the session's channel became durable. */
export interface ReceivePayment {
  readonly type: "ReceivePayment";
  readonly nonce: bigint;
  /** The channel's cumulative transferred amount, durable. */
  readonly transferred: bigint;
}
/** The driver brought the tunnel up. */
export interface ActionTunnelUp {
  readonly type: "ActionTunnelUp";
  readonly config: TunnelConfig;
}
/** The driver failed to bring the tunnel up. */
export interface ActionTunnelFailed {
  readonly type: "ActionTunnelFailed";
  readonly reason: string;
}
/** The requester closed the session. */
export interface ReceiveClose {
  readonly type: "ReceiveClose";
  readonly reason: string;
}
/** This node ends the session (shutdown, channel closing, policy). */
export interface ActionClose {
  readonly type: "ActionClose";
  readonly code: RelayErrorCode;
  readonly reason: string;
}

/** Every input of the provider session. */
export type ProviderSessionInput =
  | ActionStart
  | ActionTick
  | ReceivePayment
  | ActionTunnelUp
  | ActionTunnelFailed
  | ReceiveClose
  | ActionClose;

/** Every effect of the provider session. */
export type ProviderSessionEffect =
  | {
      readonly type: "SendAck";
      readonly nonce: bigint;
      readonly transferred: bigint;
      readonly owed: bigint;
    }
  | { readonly type: "SendReady"; readonly config: TunnelConfig }
  | { readonly type: "SendUsage"; readonly units: bigint; readonly owed: bigint }
  | { readonly type: "SendWarn"; readonly teardownInMs: number; readonly unpaid: bigint }
  | { readonly type: "SendClose"; readonly code: RelayErrorCode; readonly reason: string }
  | { readonly type: "NotifyActivateTunnel" }
  | { readonly type: "NotifyDeactivateTunnel" }
  | {
      readonly type: "NotifyTunnelLimits";
      /** Whether new connections are admitted (paid up). */
      readonly admit: boolean;
      /** Units the data plane may carry in total (null: unlimited). */
      readonly maxUnits: bigint | null;
    }
  | {
      readonly type: "NotifySessionClosed";
      readonly code: RelayErrorCode;
      readonly owed: bigint;
      readonly paid: bigint;
      readonly maxUnpaid: bigint;
      readonly exhaustedAt: number | null;
      readonly closedAt: number;
    };

/** A transition's result. */
export interface ProviderSessionResult {
  readonly state: ProviderSessionState;
  readonly effects: readonly ProviderSessionEffect[];
}

/** A new session waiting for its first unit. */
export function openProviderSession(args: {
  sessionId: string;
  channelId: ChannelId;
  terms: SessionTerms;
  base: bigint;
  now: number;
  /** The channel's unpaid balance when the session opens (negative: paid ahead; default 0). */
  carried?: bigint;
}): ProviderSessionState {
  return {
    sessionId: args.sessionId,
    channelId: args.channelId,
    terms: args.terms,
    phase: "opening",
    openedAt: args.now,
    activatedAt: null,
    base: args.base,
    carried: args.carried ?? 0n,
    paid: 0n,
    units: 0n,
    exhaustedAt: null,
    deadline: null,
    nextUsageAt: args.now + args.terms.tickMs,
    lastInputAt: args.now,
    closedAt: null,
    closeCode: null,
    maxUnpaid: 0n,
    limitUnits: null,
    limitAdmit: null,
  };
}

/**
 * What the session owes at its current unit count: its units, plus the debt it opened with or
 * less the credit it opened with (never below 0).
 */
export function owedOf(s: ProviderSessionState): bigint {
  const owed = s.carried + s.units * s.terms.unitPrice;
  return owed > 0n ? owed : 0n;
}

/**
 * The channel's cumulative amount that pays for everything billed so far: what the channel's
 * transferred amount must reach for it to owe nothing (base + carried + units · price).
 */
export function billedOf(s: ProviderSessionState): bigint {
  return s.base + s.carried + s.units * s.terms.unitPrice;
}

/** Billed and not paid, on the whole channel (negative: paid ahead). */
function unpaidOf(s: ProviderSessionState): bigint {
  return billedOf(s) - s.base - s.paid;
}

/**
 * What must be paid beyond the carried debt before the tunnel opens: the first unit, or on
 * credit (fast-lane hops) the part of it the credit does not cover (zero or less).
 */
function firstPayment(terms: SessionTerms): bigint {
  if (terms.activateOnCredit === true && terms.creditLimit >= terms.unitPrice) {
    return terms.unitPrice - terms.creditLimit;
  }
  return terms.unitPrice;
}

/** Payments left once the carried debt is paid (negative while it is not), credit included. */
function netPaid(s: ProviderSessionState): bigint {
  return s.paid - s.carried;
}

/**
 * When a second-mode session's paid time, credit included, runs out: the start of the first
 * second that `paid + creditLimit` cannot cover (ms, session clock). Null when it has no such
 * end (not active, counter modes, free).
 */
export function leaseEndOf(s: ProviderSessionState): number | null {
  if (s.phase !== "active" || s.activatedAt === null || s.terms.mode !== "second") return null;
  const covered = coveredUnits(netPaid(s), s.terms.creditLimit, s.terms.unitPrice);
  return covered === null ? null : s.activatedAt + Number(covered) * 1000;
}

/**
 * The next time the shell must run a tick for this session (null: closed).
 */
export function wakeAt(s: ProviderSessionState): number | null {
  if (s.phase === "closed") return null;
  if (s.phase !== "active") return s.openedAt + s.terms.openTimeoutMs;
  let at = s.nextUsageAt;
  if (s.deadline !== null) at = Math.min(at, s.deadline);
  if (s.terms.mode === "second") {
    const covered = coveredUnits(netPaid(s), s.terms.creditLimit, s.terms.unitPrice);
    if (covered !== null && s.exhaustedAt === null) {
      // The last covered second starts here: from then on the credit cannot take another one.
      at = Math.min(at, s.activatedAt! + Number(covered > 0n ? covered - 1n : 0n) * 1000);
    }
  } else {
    at = Math.min(at, s.lastInputAt + s.terms.pollMs);
  }
  return at;
}

/**
 * The provider session's transition.
 * @param state - the session
 * @param input - a tick, a durable payment, a tunnel outcome or a close
 * @param ctx - the time
 * @returns the new state and the effects for the shell to carry out, in order
 * @example
 * let s = openProviderSession({ sessionId, channelId, terms, base: 0n, now: 0 });
 * ({ state: s } = providerSessionTransition(s, { type: "ReceivePayment", nonce: 1n, transferred: 10n }, { now: 5 }));
 * // effects: SendAck, NotifyActivateTunnel
 */
export function providerSessionTransition(
  state: ProviderSessionState,
  input: ProviderSessionInput,
  ctx: SessionContext,
): ProviderSessionResult {
  const effects: ProviderSessionEffect[] = [];
  if (state.phase === "closed") {
    // A closed session still acknowledges: the channel outlives it and the proof is durable.
    if (input.type === "ReceivePayment") {
      effects.push({
        type: "SendAck",
        nonce: input.nonce,
        transferred: input.transferred,
        owed: owedOf(state),
      });
    }
    return { state, effects };
  }
  // One copy per transition, edited in place below: the caller's state is never touched, and a
  // payment (thousands a second) costs one state object, not one per changed field.
  const s: Draft = { ...state, lastInputAt: ctx.now };
  switch (input.type) {
    case "ActionStart": {
      const { terms } = s;
      // At once when a credit the channel carries pays the first unit, or on credit (fast-lane
      // hops) when the credit left after the carried debt covers it: the invariant holds from
      // the start.
      const prepaid = terms.activateOnCredit === true || s.carried < 0n;
      if (s.phase === "opening" && prepaid && netPaid(s) >= firstPayment(terms)) {
        s.phase = "activating";
        effects.push({ type: "NotifyActivateTunnel" });
      }
      return { state: s, effects };
    }
    case "ReceivePayment": {
      const paid = input.transferred - s.base;
      if (paid > s.paid) s.paid = paid;
      meter(s, null, ctx.now);
      effects.push({
        type: "SendAck",
        nonce: input.nonce,
        transferred: input.transferred,
        owed: owedOf(s),
      });
      // The first unit is paid before the tunnel opens (after the debt the session carries): no
      // free sample, whatever the session's length, and no fresh window for an indebted channel.
      if (s.phase === "opening" && netPaid(s) >= firstPayment(s.terms)) {
        s.phase = "activating";
        effects.push({ type: "NotifyActivateTunnel" });
        return { state: s, effects };
      }
      break;
    }
    case "ActionTunnelUp": {
      if (s.phase !== "activating") return { state, effects };
      s.phase = "active";
      s.activatedAt = ctx.now;
      s.nextUsageAt = ctx.now + s.terms.tickMs;
      meter(s, null, ctx.now);
      effects.push({ type: "SendReady", config: input.config });
      break;
    }
    case "ActionTunnelFailed":
      return close(s, "TUNNEL_FAILED", input.reason, ctx.now, effects, false);
    case "ReceiveClose":
      meter(s, null, ctx.now);
      return close(s, "CLOSED_BY_PEER", input.reason, ctx.now, effects, true);
    case "ActionClose":
      meter(s, null, ctx.now);
      return close(s, input.code, input.reason, ctx.now, effects, true);
    case "ActionTick": {
      if (s.phase !== "active") {
        if (ctx.now >= s.openedAt + s.terms.openTimeoutMs) {
          return close(s, "TIMEOUT", "first unit not paid in time", ctx.now, effects, true);
        }
        return { state: s, effects };
      }
      meter(s, input.usage, ctx.now);
      if (ctx.now >= s.nextUsageAt) {
        effects.push({ type: "SendUsage", units: s.units, owed: owedOf(s) });
        s.nextUsageAt = ctx.now + s.terms.tickMs;
      }
      break;
    }
  }
  if (s.phase !== "active") return { state: s, effects };
  return credit(s, ctx.now, effects);
}

/** The transition's own copy of the state, which only it edits. */
type Draft = { -readonly [K in keyof ProviderSessionState]: ProviderSessionState[K] };

/** Brings `units` up to date (second mode from the clock, counter modes from a reading). */
function meter(s: Draft, usage: TunnelUsage | null, now: number): void {
  if (s.phase !== "active" || s.activatedAt === null) return;
  if (s.terms.mode === "second") s.units = startedSeconds(s.activatedAt, now);
  else if (usage !== null) {
    // Counters only grow; a reading of zeros after a driver hiccup must not refund anything.
    const read = unitsFromUsage(s.terms.mode, usage);
    if (read > s.units) s.units = read;
  }
  const unpaid = unpaidOf(s);
  if (unpaid > s.maxUnpaid) s.maxUnpaid = unpaid;
}

/** The credit window: WARN when exhausted, teardown at the deadline, budget for the driver. */
function credit(s: Draft, now: number, effects: ProviderSessionEffect[]): ProviderSessionResult {
  const { terms } = s;
  const covered = coveredUnits(netPaid(s), terms.creditLimit, terms.unitPrice);
  // Exhausted: the credit left cannot cover one more unit.
  const exhausted = covered !== null && s.units >= covered;
  // Counter modes get a unit budget the data plane enforces; every mode stops admitting new
  // connections while it is behind.
  const maxUnits = terms.mode === "second" ? null : covered;
  if (maxUnits !== s.limitUnits || s.limitAdmit !== !exhausted) {
    effects.push({ type: "NotifyTunnelLimits", admit: !exhausted, maxUnits });
    s.limitUnits = maxUnits;
    s.limitAdmit = !exhausted;
  }
  if (!exhausted) {
    s.exhaustedAt = null;
    s.deadline = null;
    return { state: s, effects };
  }
  if (s.exhaustedAt === null) {
    let deadline = now + terms.graceMs;
    if (terms.mode === "second") {
      // The first second the credit cannot cover starts at activatedAt + covered·1000: the
      // tunnel must be down before then, or the provider is owed more than the limit.
      deadline = Math.min(deadline, s.activatedAt! + Number(covered) * 1000 - terms.marginMs);
    }
    s.exhaustedAt = now;
    s.deadline = Math.max(deadline, now);
    const unpaid = unpaidOf(s);
    effects.push({
      type: "SendWarn",
      // Whole milliseconds (the wire field is an integer; the clock is not), rounded down so
      // that the requester is never told it has longer than it has.
      teardownInMs: Math.floor(s.deadline - now),
      unpaid: unpaid > 0n ? unpaid : 0n,
    });
  }
  if (now >= s.deadline!) {
    return close(
      s,
      "CREDIT_EXHAUSTED",
      "payment stopped: credit window used up",
      now,
      effects,
      true,
    );
  }
  return { state: s, effects };
}

function close(
  s: Draft,
  code: RelayErrorCode,
  reason: string,
  now: number,
  effects: ProviderSessionEffect[],
  tunnelMayBeUp: boolean,
): ProviderSessionResult {
  const wasUp = s.phase === "active" || s.phase === "activating";
  s.phase = "closed";
  s.closedAt = now;
  s.closeCode = code;
  if (tunnelMayBeUp && wasUp) effects.push({ type: "NotifyDeactivateTunnel" });
  if (code !== "CLOSED_BY_PEER") effects.push({ type: "SendClose", code, reason });
  effects.push({
    type: "NotifySessionClosed",
    code,
    owed: owedOf(s),
    paid: s.paid,
    maxUnpaid: s.maxUnpaid,
    exhaustedAt: s.exhaustedAt,
    closedAt: now,
  });
  return { state: s, effects };
}
