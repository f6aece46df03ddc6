/**
 * The requester's side of a payment session as a pure `transition(state, input, ctx)`: how much
 * to pay and when (the first unit and the prepay before the tunnel opens, then ahead of its own
 * counters), and whether the provider's usage claims stay within tolerance of them. An
 * over-claim is refused: no payment for it, and the session ends with USAGE_OVERCLAIM.
 */
import type { RelayErrorCode } from "../errors.ts";
import type { MeterMode } from "../wire/frames.ts";
import { startedSeconds } from "./terms.ts";

/** How far a provider's claim may exceed the requester's own counters. */
export interface UsageTolerance {
  /** Relative slack, e.g. 0.05 for 5 %. */
  readonly ratio: number;
  /** Absolute slack in units (second mode: 1 covers a READY still in flight at a boundary). */
  readonly units: bigint;
}

/** What the requester agreed to. */
export interface RequesterTerms {
  readonly mode: MeterMode;
  readonly unitPrice: bigint;
  /** Units paid ahead of consumption (at least the first unit is always paid up front). */
  readonly prepayUnits: bigint;
  readonly tolerance: UsageTolerance;
}

/** One session as the requester sees it. */
export interface RequesterSessionState {
  readonly terms: RequesterTerms;
  readonly phase: "opening" | "active" | "closed";
  readonly readyAt: number | null;
  /** The channel's transferred amount (own, cumulative) when the session started. */
  readonly base: bigint;
  /** Cumulative amount signed so far (base + what this session paid). */
  readonly signed: bigint;
  /** Own counters (counter modes: last reading; second mode: started seconds). */
  readonly ownUnits: bigint;
  /** Highest claim accepted from the provider. */
  readonly claimedUnits: bigint;
  readonly ackedNonce: bigint;
  readonly ackedTransferred: bigint;
  /** False once the app stopped paying (tests, or an app that wants out without a CLOSE). */
  readonly paying: boolean;
  readonly closeCode: RelayErrorCode | null;
}

/** Inputs of the requester session. */
export type RequesterSessionInput =
  | { readonly type: "ActionStart" }
  | {
      readonly type: "ReceiveReady";
      readonly ackedNonce: bigint;
      readonly ackedTransferred: bigint;
    }
  | { readonly type: "ActionMeter"; readonly units: bigint | null }
  | { readonly type: "ReceiveUsage"; readonly units: bigint; readonly owed: bigint }
  | { readonly type: "ReceiveAck"; readonly nonce: bigint; readonly transferred: bigint }
  | { readonly type: "ReceiveWarn"; readonly teardownInMs: number; readonly unpaid: bigint }
  | { readonly type: "ReceiveClose"; readonly code: RelayErrorCode; readonly reason: string }
  | { readonly type: "ActionSetPaying"; readonly paying: boolean }
  | { readonly type: "ActionClose"; readonly reason: string };

/** Effects of the requester session. */
export type RequesterSessionEffect =
  | { readonly type: "SendPay"; readonly amount: bigint }
  | { readonly type: "SendClose"; readonly code: RelayErrorCode; readonly reason: string }
  | { readonly type: "NotifyReady" }
  | {
      readonly type: "NotifyUsage";
      readonly units: bigint;
      readonly owed: bigint;
      readonly own: bigint;
    }
  | { readonly type: "NotifyAck"; readonly nonce: bigint; readonly transferred: bigint }
  | { readonly type: "NotifyWarn"; readonly teardownInMs: number; readonly unpaid: bigint }
  | { readonly type: "NotifyClosed"; readonly code: RelayErrorCode; readonly reason: string };

/** A transition's result. */
export interface RequesterSessionResult {
  readonly state: RequesterSessionState;
  readonly effects: readonly RequesterSessionEffect[];
}

/**
 * A new session, before anything is paid.
 * @param paying - false opens it paused: nothing is paid until `ActionSetPaying` (a fast-lane
 *   hop that activates on credit, paid once the whole path is up)
 */
export function openRequesterSession(
  terms: RequesterTerms,
  base: bigint,
  paying = true,
): RequesterSessionState {
  return {
    terms,
    phase: "opening",
    readyAt: null,
    base,
    signed: base,
    ownUnits: 0n,
    claimedUnits: 0n,
    ackedNonce: 0n,
    ackedTransferred: base,
    paying,
    closeCode: null,
  };
}

/** The largest claim the requester accepts given its own count. */
export function maxAcceptableClaim(own: bigint, tolerance: UsageTolerance): bigint {
  const ppm = BigInt(Math.round(tolerance.ratio * 1_000_000));
  return own + (own * ppm) / 1_000_000n + tolerance.units;
}

/**
 * The requester session's transition.
 * @param ctx - the time (ms); second mode counts started seconds since READY from it
 * @example
 * let s = openRequesterSession(terms, 0n);
 * ({ state: s } = requesterSessionTransition(s, { type: "ActionStart" }, { now }));
 * // effects: SendPay (first unit + prepay)
 */
export function requesterSessionTransition(
  state: RequesterSessionState,
  input: RequesterSessionInput,
  ctx: { readonly now: number },
): RequesterSessionResult {
  if (state.phase === "closed") {
    // A proof paid with the close is acknowledged after it; that ACK still counts.
    if (input.type === "ReceiveAck" && input.nonce > state.ackedNonce) {
      return {
        state: { ...state, ackedNonce: input.nonce, ackedTransferred: input.transferred },
        effects: [{ type: "NotifyAck", nonce: input.nonce, transferred: input.transferred }],
      };
    }
    return { state, effects: [] };
  }
  const effects: RequesterSessionEffect[] = [];
  let s = state;
  switch (input.type) {
    case "ActionStart":
      break;
    case "ReceiveReady":
      s = {
        ...s,
        phase: "active",
        readyAt: s.readyAt ?? ctx.now,
        ackedNonce: input.ackedNonce,
        ackedTransferred: input.ackedTransferred,
      };
      effects.push({ type: "NotifyReady" });
      break;
    case "ActionMeter":
      if (input.units !== null && input.units > s.ownUnits) s = { ...s, ownUnits: input.units };
      break;
    case "ReceiveUsage": {
      s = ownNow(s, ctx.now);
      // Never pay for more than was really carried, beyond the agreed tolerance.
      if (input.units > maxAcceptableClaim(s.ownUnits, s.terms.tolerance)) {
        const reason = `provider claims ${input.units} units, own counters say ${s.ownUnits}`;
        s = { ...s, phase: "closed", closeCode: "USAGE_OVERCLAIM" };
        effects.push({ type: "SendClose", code: "USAGE_OVERCLAIM", reason });
        effects.push({ type: "NotifyClosed", code: "USAGE_OVERCLAIM", reason });
        return { state: s, effects };
      }
      if (input.units > s.claimedUnits) s = { ...s, claimedUnits: input.units };
      effects.push({ type: "NotifyUsage", units: input.units, owed: input.owed, own: s.ownUnits });
      break;
    }
    case "ReceiveAck":
      if (input.nonce > s.ackedNonce) {
        s = { ...s, ackedNonce: input.nonce, ackedTransferred: input.transferred };
        effects.push({ type: "NotifyAck", nonce: input.nonce, transferred: input.transferred });
      }
      return { state: s, effects };
    case "ReceiveWarn":
      effects.push({ type: "NotifyWarn", teardownInMs: input.teardownInMs, unpaid: input.unpaid });
      break;
    case "ReceiveClose":
      s = { ...s, phase: "closed", closeCode: input.code };
      effects.push({ type: "NotifyClosed", code: input.code, reason: input.reason });
      return { state: s, effects };
    case "ActionSetPaying":
      s = { ...s, paying: input.paying };
      break;
    case "ActionClose": {
      // A session of any length is billed: pay for what was carried since the last payment.
      s = ownNow(s, ctx.now);
      const target = s.base + maxOf(s.ownUnits, s.claimedUnits) * s.terms.unitPrice;
      if (s.phase === "active" && s.paying && target > s.signed) {
        effects.push({ type: "SendPay", amount: target - s.signed });
        s = { ...s, signed: target };
      }
      s = { ...s, phase: "closed", closeCode: "CLOSED_LOCALLY" };
      effects.push({ type: "SendClose", code: "CLOSED_BY_PEER", reason: input.reason });
      effects.push({ type: "NotifyClosed", code: "CLOSED_LOCALLY", reason: input.reason });
      return { state: s, effects };
    }
  }
  s = ownNow(s, ctx.now);
  if (!s.paying) return { state: s, effects };
  // Pay ahead of the larger of our own count and an accepted claim, by `prepayUnits`; before
  // READY that is the first unit and the prepay, which the provider needs to open the tunnel.
  const consumed = maxOf(s.ownUnits, s.claimedUnits);
  const ahead = s.terms.prepayUnits > 0n ? s.terms.prepayUnits : 0n;
  const units = s.phase === "opening" ? maxOf(ahead, 1n) : consumed + ahead;
  const target = s.base + units * s.terms.unitPrice;
  if (target > s.signed) {
    effects.push({ type: "SendPay", amount: target - s.signed });
    s = { ...s, signed: target };
  }
  return { state: s, effects };
}

function ownNow(s: RequesterSessionState, now: number): RequesterSessionState {
  if (s.terms.mode !== "second" || s.readyAt === null) return s;
  const units = startedSeconds(s.readyAt, now);
  return units > s.ownUnits ? { ...s, ownUnits: units } : s;
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
