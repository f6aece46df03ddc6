/**
 * The fast-lane path (pure core): a requester buys a priority lane from every ISP node on the
 * end-to-end path. It asks each hop for a quote, opens or reuses a channel with each, asks each
 * to activate its lane, and the path counts as active only once every hop has said its lane is
 * in place. Payments flow to each hop while the path is active (funds are released only once
 * every policy is in place); teardown runs hop by hop in reverse; a hop that refuses to quote or
 * fails to activate aborts the whole path, and nobody has been paid.
 */
import { startedSeconds } from "../session/terms.ts";

/** What the requester asks every hop for. */
export interface LaneRequest {
  /** The flow, as the `qos` driver's parameters (dst, src, ports, protocol). */
  readonly flow: Readonly<Record<string, string | number>>;
  readonly rateKbit: number;
}

/** A hop's price for the lane. */
export interface LaneQuote {
  readonly hop: string;
  /** The hop's payee address (its channel partner). */
  readonly payee: string;
  readonly rateKbit: number;
  /** Price of each started second, token base units. */
  readonly pricePerSecond: bigint;
  /** What the hop lets the requester owe. */
  readonly creditLimit: bigint;
}

/** A hop's progress. */
export type HopPhase =
  | "quoting"
  | "quoted"
  | "funding"
  | "funded"
  | "activating"
  | "active"
  | "failed"
  | "removing"
  | "removed";

/** One hop as the requester sees it. */
export interface HopState {
  readonly hop: string;
  readonly phase: HopPhase;
  readonly quote: LaneQuote | null;
  readonly channelId: string | null;
  /** Cumulative amount sent to this hop for this path. */
  readonly paid: bigint;
  /** When teardown was asked (ms), for the teardown timeout. */
  readonly removingSince: number | null;
}

/**
 * Why a path closed: STOPPED by its owner (the outcome is the reason it gave, `done` by default),
 * or what aborted it.
 */
export type PathCloseCode =
  | "STOPPED"
  | "NO_HOPS"
  /** A hop quoted for another hop. */
  | "QUOTE_MISMATCH"
  /** A hop's price per second is over the requester's limit. */
  | "PRICE_TOO_HIGH"
  /** A hop offers less than the requested rate. */
  | "RATE_TOO_LOW"
  | "QUOTE_REFUSED"
  | "CHANNEL_FAILED"
  | "LANE_FAILED"
  /** A hop dropped its lane on its own while the path was active. */
  | "LANE_REMOVED"
  /** The requester walked away without teardown (the runner's `abandon`). */
  | "ABANDONED";

/** How a path closed: the code, the hop it concerns (null for the whole path), and in words. */
export interface PathClosure {
  readonly code: PathCloseCode;
  readonly hop: string | null;
  readonly outcome: string;
}

/** The path's phase. */
export type PathPhase = "quoting" | "funding" | "activating" | "active" | "closing" | "closed";

/** The whole path. */
export interface PathState {
  readonly sessionId: string;
  readonly phase: PathPhase;
  readonly request: LaneRequest;
  readonly hops: readonly HopState[];
  /** The most the requester pays one hop per second. */
  readonly maxPricePerSecond: bigint;
  /** Seconds paid ahead of use at every payment. */
  readonly prepaySeconds: bigint;
  /** A hop that does not confirm its teardown within this time is passed over, ms. */
  readonly teardownTimeoutMs: number;
  readonly activeAt: number | null;
  /** Why the path closed (null until it closes by a stop or an abort). */
  readonly closure: PathClosure | null;
  /** Whether the path ever became active (a path aborted before that paid nobody). */
  readonly wasActive: boolean;
}

/** Inputs, named by origin. */
export type PathInput =
  | { readonly type: "ActionStart" }
  | { readonly type: "ReceiveQuote"; readonly hop: string; readonly quote: LaneQuote }
  | { readonly type: "ReceiveQuoteRefused"; readonly hop: string; readonly reason: string }
  | { readonly type: "ActionChannelReady"; readonly hop: string; readonly channelId: string }
  | { readonly type: "ActionChannelFailed"; readonly hop: string; readonly reason: string }
  | { readonly type: "ReceiveLaneActive"; readonly hop: string }
  | { readonly type: "ReceiveLaneFailed"; readonly hop: string; readonly reason: string }
  | { readonly type: "ReceiveLaneRemoved"; readonly hop: string }
  | { readonly type: "ActionTick" }
  | { readonly type: "ActionStop"; readonly reason: string };

/** Effects, named by destination. */
export type PathEffect =
  | { readonly type: "SendQuoteRequest"; readonly hop: string; readonly request: LaneRequest }
  | { readonly type: "NotifyEnsureChannel"; readonly hop: string; readonly quote: LaneQuote }
  | { readonly type: "SendActivate"; readonly hop: string; readonly request: LaneRequest }
  | { readonly type: "SendPayment"; readonly hop: string; readonly total: bigint }
  | { readonly type: "SendTeardown"; readonly hop: string }
  | { readonly type: "NotifyPathActive" }
  | ({ readonly type: "NotifyPathClosed"; readonly wasActive: boolean } & PathClosure);

/** The time, from the shell. */
export interface PathContext {
  readonly now: number;
}

/** Options of `createPath`. */
export interface PathOptions {
  readonly sessionId: string;
  readonly hops: readonly string[];
  readonly request: LaneRequest;
  readonly maxPricePerSecond: bigint;
  readonly prepaySeconds?: bigint;
  readonly teardownTimeoutMs?: number;
}

/** A path before `ActionStart`. */
export function createPath(o: PathOptions): PathState {
  return {
    sessionId: o.sessionId,
    phase: "quoting",
    request: o.request,
    hops: o.hops.map((hop) => ({
      hop,
      phase: "quoting",
      quote: null,
      channelId: null,
      paid: 0n,
      removingSince: null,
    })),
    maxPricePerSecond: o.maxPricePerSecond,
    prepaySeconds: o.prepaySeconds ?? 1n,
    teardownTimeoutMs: o.teardownTimeoutMs ?? 5_000,
    activeAt: null,
    closure: null,
    wasActive: false,
  };
}

type Result = { readonly state: PathState; readonly effects: readonly PathEffect[] };

function setHop(s: PathState, hop: string, patch: Partial<HopState>): PathState {
  return { ...s, hops: s.hops.map((h) => (h.hop === hop ? { ...h, ...patch } : h)) };
}

/** Hops whose lane may be up, from the last hop back. */
function upFromTheEnd(s: PathState): HopState[] {
  return s.hops.filter((h) => h.phase === "activating" || h.phase === "active").reverse();
}

/** Starts or continues the reverse teardown: one hop at a time, the last one first. */
function continueTeardown(s: PathState, now: number): Result {
  if (s.hops.some((h) => h.phase === "removing")) return { state: s, effects: [] };
  const next = upFromTheEnd(s)[0];
  if (next === undefined) {
    const closure = s.closure ?? STOPPED_DONE;
    return {
      state: { ...s, phase: "closed" },
      effects: [{ type: "NotifyPathClosed", ...closure, wasActive: s.wasActive }],
    };
  }
  return {
    state: setHop(s, next.hop, { phase: "removing", removingSince: now }),
    effects: [{ type: "SendTeardown", hop: next.hop }],
  };
}

const STOPPED_DONE: PathClosure = { code: "STOPPED", hop: null, outcome: "done" };

function close(
  s: PathState,
  code: PathCloseCode,
  hop: string | null,
  outcome: string,
  now: number,
): Result {
  if (s.phase === "closing" || s.phase === "closed") return { state: s, effects: [] };
  return continueTeardown({ ...s, phase: "closing", closure: { code, hop, outcome } }, now);
}

/** Payments due now: each active hop is paid its started seconds plus the prepay. */
function payments(s: PathState, now: number): Result {
  if (s.phase !== "active" || s.activeAt === null) return { state: s, effects: [] };
  const effects: PathEffect[] = [];
  let next = s;
  for (const h of s.hops) {
    if (h.quote === null) continue;
    const seconds = startedSeconds(s.activeAt, now) + s.prepaySeconds;
    const due = seconds * h.quote.pricePerSecond;
    if (due > h.paid) {
      next = setHop(next, h.hop, { paid: due });
      effects.push({ type: "SendPayment", hop: h.hop, total: due });
    }
  }
  return { state: next, effects };
}

/**
 * The path's transition.
 * @param ctx - the time (ms); the core reads no clock
 */
export function pathTransition(s: PathState, input: PathInput, ctx: PathContext): Result {
  const hop = "hop" in input ? s.hops.find((h) => h.hop === input.hop) : undefined;
  if ("hop" in input && hop === undefined) return { state: s, effects: [] };
  switch (input.type) {
    case "ActionStart":
      if (s.phase !== "quoting" || s.hops.some((h) => h.phase !== "quoting")) {
        return { state: s, effects: [] };
      }
      if (s.hops.length === 0) return close(s, "NO_HOPS", null, "no hops", ctx.now);
      return {
        state: s,
        effects: s.hops.map((h) => ({
          type: "SendQuoteRequest" as const,
          hop: h.hop,
          request: s.request,
        })),
      };
    case "ReceiveQuote": {
      if (s.phase !== "quoting" || hop?.phase !== "quoting") return { state: s, effects: [] };
      const q = input.quote;
      // A quote is for this hop, this lane, and within the requester's price.
      if (q.hop !== input.hop) {
        return close(
          s,
          "QUOTE_MISMATCH",
          input.hop,
          `${input.hop}: quote for another hop`,
          ctx.now,
        );
      }
      if (q.pricePerSecond > s.maxPricePerSecond) {
        const outcome = `${input.hop}: price ${q.pricePerSecond}/s over the limit`;
        return close(s, "PRICE_TOO_HIGH", input.hop, outcome, ctx.now);
      }
      if (q.rateKbit < s.request.rateKbit) {
        const outcome = `${input.hop}: offers ${q.rateKbit} kbit/s only`;
        return close(s, "RATE_TOO_LOW", input.hop, outcome, ctx.now);
      }
      let next = setHop(s, input.hop, { phase: "quoted", quote: q });
      if (next.hops.some((h) => h.phase !== "quoted")) return { state: next, effects: [] };
      next = { ...next, phase: "funding" };
      next = { ...next, hops: next.hops.map((h) => ({ ...h, phase: "funding" as const })) };
      return {
        state: next,
        effects: next.hops.map((h) => ({
          type: "NotifyEnsureChannel" as const,
          hop: h.hop,
          quote: h.quote as LaneQuote,
        })),
      };
    }
    case "ReceiveQuoteRefused":
      if (s.phase !== "quoting") return { state: s, effects: [] };
      return close(
        s,
        "QUOTE_REFUSED",
        input.hop,
        `${input.hop}: no quote: ${input.reason}`,
        ctx.now,
      );
    case "ActionChannelReady": {
      if (s.phase !== "funding" || hop?.phase !== "funding") return { state: s, effects: [] };
      let next = setHop(s, input.hop, { phase: "funded", channelId: input.channelId });
      if (next.hops.some((h) => h.phase !== "funded")) return { state: next, effects: [] };
      next = { ...next, phase: "activating" };
      next = { ...next, hops: next.hops.map((h) => ({ ...h, phase: "activating" as const })) };
      return {
        state: next,
        effects: next.hops.map((h) => ({
          type: "SendActivate" as const,
          hop: h.hop,
          request: s.request,
        })),
      };
    }
    case "ActionChannelFailed":
      if (s.phase !== "funding") return { state: s, effects: [] };
      return close(
        s,
        "CHANNEL_FAILED",
        input.hop,
        `${input.hop}: no channel: ${input.reason}`,
        ctx.now,
      );
    case "ReceiveLaneActive": {
      if (hop?.phase !== "activating") return { state: s, effects: [] };
      let next = setHop(s, input.hop, { phase: "active" });
      if (next.phase !== "activating" || next.hops.some((h) => h.phase !== "active")) {
        return { state: next, effects: [] };
      }
      // Every hop has its lane in place: only now does money move.
      next = { ...next, phase: "active", activeAt: ctx.now, wasActive: true };
      const paid = payments(next, ctx.now);
      return { state: paid.state, effects: [{ type: "NotifyPathActive" }, ...paid.effects] };
    }
    case "ReceiveLaneFailed": {
      if (hop?.phase !== "activating" && hop?.phase !== "active") return { state: s, effects: [] };
      const next = setHop(s, input.hop, { phase: "failed" });
      if (next.phase === "closing") return continueTeardown(next, ctx.now);
      const outcome = `${input.hop}: lane failed: ${input.reason}`;
      return close(next, "LANE_FAILED", input.hop, outcome, ctx.now);
    }
    case "ReceiveLaneRemoved": {
      if (hop?.phase !== "removing") {
        // A hop that dropped its lane on its own (lease ran out): the path cannot go on.
        if (hop?.phase === "active" && s.phase === "active") {
          return close(
            setHop(s, input.hop, { phase: "removed" }),
            "LANE_REMOVED",
            input.hop,
            `${input.hop}: lane removed`,
            ctx.now,
          );
        }
        return { state: s, effects: [] };
      }
      return continueTeardown(setHop(s, input.hop, { phase: "removed" }), ctx.now);
    }
    case "ActionTick": {
      if (s.phase === "active") return payments(s, ctx.now);
      const stuck = s.hops.find(
        (h) =>
          h.phase === "removing" && ctx.now - (h.removingSince ?? ctx.now) >= s.teardownTimeoutMs,
      );
      if (s.phase === "closing" && stuck !== undefined) {
        // Its lease runs out without payments anyway; the rest of the path must not wait.
        return continueTeardown(setHop(s, stuck.hop, { phase: "removed" }), ctx.now);
      }
      return { state: s, effects: [] };
    }
    case "ActionStop":
      return close(s, "STOPPED", null, input.reason, ctx.now);
  }
}
