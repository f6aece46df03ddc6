/**
 * The requester's side of a payment session as a pure `transition(state, input, ctx)`: how much
 * to pay and when (the first unit and the prepay before the tunnel opens, then ahead of its own
 * counters), and whether the provider's usage claims stay within tolerance of them. An
 * over-claim is refused: no payment for it, and the session ends with USAGE_OVERCLAIM.
 *
 * Nothing is signed before the provider holds a session to pay into: the first payment waits
 * for ACCEPT and builds on what ACCEPT says the channel was billed, not on what this side signed
 * (proofs signed before a crash, and never delivered, count towards it instead of adding to it).
 * While the link is lost (socket down, or the provider no longer knows the session) nothing is
 * paid; the session pays again once the provider has taken it back (READY of the same session,
 * or ACCEPT of a new one on the same channel after a provider restart).
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
  /**
   * The channel's cumulative amount this session's units are paid on top of: until ACCEPT what
   * this side had signed, then what the provider says the channel was billed before the session.
   */
  readonly base: bigint;
  /** The provider's session id (from ACCEPT or READY; null before). */
  readonly sessionId: string | null;
  /** Whether the provider holds the session now: no payment is signed while it does not. */
  readonly accepted: boolean;
  /** Own counter reading when the provider's session started (counter modes). */
  readonly unitsOffset: bigint;
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
      readonly type: "ReceiveAccept";
      readonly sessionId: string;
      readonly ackedNonce: bigint;
      readonly ackedTransferred: bigint;
      /** What the channel was billed before the session: the first unit is paid on top. */
      readonly billed: bigint;
    }
  | {
      readonly type: "ReceiveReady";
      /** The session's id (absent: the one already known). */
      readonly sessionId?: string;
      readonly ackedNonce: bigint;
      readonly ackedTransferred: bigint;
    }
  /** The socket dropped, or the provider answered a resume with SESSION_UNKNOWN. */
  | { readonly type: "ActionLinkLost" }
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
  /** Send the latest proof again: signed, never acknowledged, and covering what is due. */
  | { readonly type: "ResendLatest" }
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
 * @param signed - the channel's cumulative amount signed so far
 * @param paying - false opens it paused: nothing is paid until `ActionSetPaying` (a fast-lane
 *   hop that activates on credit, paid once the whole path is up) but a debt ACCEPT names
 */
export function openRequesterSession(
  terms: RequesterTerms,
  signed: bigint,
  paying = true,
): RequesterSessionState {
  return {
    terms,
    phase: "opening",
    readyAt: null,
    base: signed,
    sessionId: null,
    accepted: false,
    unitsOffset: 0n,
    signed,
    ownUnits: 0n,
    claimedUnits: 0n,
    ackedNonce: 0n,
    ackedTransferred: signed,
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
 * ({ state: s } = requesterSessionTransition(s, { type: "ActionStart" }, { now })); // OPEN sent
 * const accept = { type: "ReceiveAccept", sessionId, ackedNonce: 0n, ackedTransferred: 0n, billed: 0n };
 * ({ state: s } = requesterSessionTransition(s, accept, { now }));
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
  // The provider just (re)took the session: a proof it has not got, if it covers what is due,
  // goes again instead of a new one.
  let offerLatest = false;
  switch (input.type) {
    case "ActionStart":
      break;
    case "ReceiveAccept":
      s = onAccept(s, input);
      offerLatest = true;
      break;
    case "ReceiveReady":
      s = {
        ...s,
        phase: "active",
        sessionId: input.sessionId ?? s.sessionId,
        accepted: true,
        readyAt: s.readyAt ?? ctx.now,
        ...acked(s, input.ackedNonce, input.ackedTransferred),
      };
      effects.push({ type: "NotifyReady" });
      offerLatest = true;
      break;
    case "ActionLinkLost":
      s = { ...s, accepted: false };
      return { state: s, effects };
    case "ActionMeter":
      if (input.units !== null && input.units > s.ownUnits) s = { ...s, ownUnits: input.units };
      break;
    case "ReceiveUsage": {
      s = ownNow(s, ctx.now);
      // Never pay for more than was really carried, beyond the agreed tolerance.
      const own = ownConsumed(s);
      if (input.units > maxAcceptableClaim(own, s.terms.tolerance)) {
        const reason = `provider claims ${input.units} units, own counters say ${own}`;
        s = { ...s, phase: "closed", closeCode: "USAGE_OVERCLAIM" };
        effects.push({ type: "SendClose", code: "USAGE_OVERCLAIM", reason });
        effects.push({ type: "NotifyClosed", code: "USAGE_OVERCLAIM", reason });
        return { state: s, effects };
      }
      if (input.units > s.claimedUnits) s = { ...s, claimedUnits: input.units };
      effects.push({ type: "NotifyUsage", units: input.units, owed: input.owed, own });
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
      const target = s.base + consumed(s) * s.terms.unitPrice;
      if (s.phase === "active" && s.accepted && s.paying && target > s.signed) {
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
  if (!s.accepted) return { state: s, effects };
  // Pay ahead of the larger of our own count and an accepted claim, by `prepayUnits`; before
  // READY that is the first unit and the prepay, which the provider needs to open the tunnel.
  // Paused, only a debt the channel carries is paid (a lane opens on credit only once it is).
  const ahead = s.terms.prepayUnits > 0n ? s.terms.prepayUnits : 0n;
  const units = !s.paying ? 0n : s.phase === "opening" ? maxOf(ahead, 1n) : consumed(s) + ahead;
  const target = s.base + units * s.terms.unitPrice;
  if (target > s.signed) {
    effects.push({ type: "SendPay", amount: target - s.signed });
    s = { ...s, signed: target };
  } else if (offerLatest && s.signed > s.ackedTransferred) {
    effects.push({ type: "ResendLatest" });
  }
  return { state: s, effects };
}

/**
 * ACCEPT: of the session already known (a resume before READY), or of a new one on the channel
 * (the first, or one that replaces a session the provider lost): a new one starts its billing
 * from the provider's word, and counts units from zero again.
 */
function onAccept(
  s: RequesterSessionState,
  input: Extract<RequesterSessionInput, { type: "ReceiveAccept" }>,
): RequesterSessionState {
  const next = { ...s, accepted: true, ...acked(s, input.ackedNonce, input.ackedTransferred) };
  if (input.sessionId === s.sessionId) return next;
  return {
    ...next,
    sessionId: input.sessionId,
    phase: "opening",
    base: input.billed,
    readyAt: null,
    ownUnits: s.terms.mode === "second" ? 0n : s.ownUnits,
    unitsOffset: s.terms.mode === "second" ? 0n : s.ownUnits,
    claimedUnits: 0n,
  };
}

/** The provider's view of what it has made durable, which only moves forward. */
function acked(
  s: RequesterSessionState,
  nonce: bigint,
  transferred: bigint,
): { ackedNonce: bigint; ackedTransferred: bigint } {
  return nonce >= s.ackedNonce
    ? { ackedNonce: nonce, ackedTransferred: transferred }
    : { ackedNonce: s.ackedNonce, ackedTransferred: s.ackedTransferred };
}

/** Units carried in this provider session by our own counters. */
function ownConsumed(s: RequesterSessionState): bigint {
  const own = s.ownUnits - s.unitsOffset;
  return own > 0n ? own : 0n;
}

/** Units to pay for: the larger of our own count and an accepted claim. */
function consumed(s: RequesterSessionState): bigint {
  return maxOf(ownConsumed(s), s.claimedUnits);
}

function ownNow(s: RequesterSessionState, now: number): RequesterSessionState {
  if (s.terms.mode !== "second" || s.readyAt === null) return s;
  const units = startedSeconds(s.readyAt, now);
  return units > s.ownUnits ? { ...s, ownUnits: units } : s;
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
