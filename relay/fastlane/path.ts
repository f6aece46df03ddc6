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
  /** Why the path closed: `done`, or what aborted it. */
  readonly outcome: string | null;
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
  | { readonly type: "NotifyPathClosed"; readonly outcome: string; readonly wasActive: boolean };

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
    outcome: null,
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
    const outcome = s.outcome ?? "done";
    return {
      state: { ...s, phase: "closed" },
      effects: [{ type: "NotifyPathClosed", outcome, wasActive: s.wasActive }],
    };
  }
  return {
    state: setHop(s, next.hop, { phase: "removing", removingSince: now }),
    effects: [{ type: "SendTeardown", hop: next.hop }],
  };
}

function close(s: PathState, outcome: string, now: number): Result {
  if (s.phase === "closing" || s.phase === "closed") return { state: s, effects: [] };
  return continueTeardown({ ...s, phase: "closing", outcome }, now);
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
      if (s.hops.length === 0) return close(s, "no hops", ctx.now);
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
      if (q.hop !== input.hop) return close(s, `${input.hop}: quote for another hop`, ctx.now);
      if (q.pricePerSecond > s.maxPricePerSecond) {
        return close(s, `${input.hop}: price ${q.pricePerSecond}/s over the limit`, ctx.now);
      }
      if (q.rateKbit < s.request.rateKbit) {
        return close(s, `${input.hop}: offers ${q.rateKbit} kbit/s only`, ctx.now);
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
      return close(s, `${input.hop}: no quote: ${input.reason}`, ctx.now);
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
      return close(s, `${input.hop}: no channel: ${input.reason}`, ctx.now);
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
      return close(next, `${input.hop}: lane failed: ${input.reason}`, ctx.now);
    }
    case "ReceiveLaneRemoved": {
      if (hop?.phase !== "removing") {
        // A hop that dropped its lane on its own (lease ran out): the path cannot go on.
        if (hop?.phase === "active" && s.phase === "active") {
          return close(
            setHop(s, input.hop, { phase: "removed" }),
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
      return close(s, input.reason, ctx.now);
  }
}
