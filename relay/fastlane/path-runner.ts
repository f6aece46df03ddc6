/**
 * Runs a fast-lane path (shell): feeds the pure path core with the hops' answers and a timer,
 * and carries out its effects against each hop (`FastLaneRequester.hop` reaches an ISP's node
 * over the relay).
 */
import { shortMessageOf, TollwayError } from "../../channels/index.ts";
import {
  createPath,
  type LaneQuote,
  type LaneRequest,
  type PathCloseCode,
  type PathClosure,
  type PathEffect,
  type PathInput,
  type PathOptions,
  type PathState,
  pathTransition,
} from "./path.ts";

/** One ISP node on the path, as the requester reaches it. */
export interface FastLaneHop {
  readonly id: string;
  quote(request: LaneRequest): Promise<LaneQuote>;
  /** Opens or reuses a channel with the hop; resolves to its id. */
  ensureChannel(quote: LaneQuote): Promise<string>;
  /** Resolves once the hop says its lane is in place. */
  activate(sessionId: string, request: LaneRequest): Promise<void>;
  /**
   * Keeps the hop paid while its lane is up: `total` is what the path owes it so far by the
   * path's clock (a hop that meters on its own may pay more). Rejects once the hop's lane is
   * gone, which aborts the path.
   */
  pay(sessionId: string, total: bigint): Promise<void>;
  /** Resolves once the hop has removed its lane. */
  teardown(sessionId: string): Promise<void>;
  /** Stops paying without a teardown (a requester that vanished); the hop's lease runs out. */
  abandon(): void;
}

/** Options of `runPath`. */
export interface RunPathOptions extends Omit<PathOptions, "hops"> {
  readonly hops: readonly FastLaneHop[];
  /** Payment timer, ms (default 200). */
  readonly tickMs?: number;
  /** Milliseconds clock (default `Date.now`). */
  readonly clock?: () => number;
}

/** How a path ended: its closure (code, hop, outcome in words) and whether it was ever active. */
export interface PathEnd extends PathClosure {
  readonly wasActive: boolean;
}

/** `active` rejects with this when the path closes before every lane is up. */
export class PathClosedError extends TollwayError<PathCloseCode> {
  /**
   * @param closure - how the path closed
   */
  constructor(closure: PathClosure) {
    super(closure.code, `path closed before it was active: ${closure.outcome}`, {
      details: { hop: closure.hop, outcome: closure.outcome },
    });
    this.name = "PathClosedError";
  }
}

/** A running path. */
export interface RunningPath {
  /** Resolves when every hop has its lane; rejects when the path aborts before that. */
  readonly active: Promise<void>;
  readonly closed: Promise<PathEnd>;
  state(): PathState;
  /** Tears the path down, hop by hop in reverse. */
  stop(reason?: string): Promise<PathEnd>;
  /**
   * Stops paying and walks away without teardown (a requester that vanished): each hop's lane
   * goes when its credit runs out. `closed` resolves with outcome `abandoned`.
   */
  abandon(): void;
}

/**
 * Starts a path.
 * @example
 * const path = runPath({ sessionId, hops, request: { flow, rateKbit: 20_000 },
 *   maxPricePerSecond: 10n });
 * await path.active; // every hop's lane is in place, payments flow
 * await path.stop();
 */
export function runPath(opts: RunPathOptions): RunningPath {
  const clock = opts.clock ?? Date.now;
  const hops = new Map(opts.hops.map((h) => [h.id, h]));
  let state = createPath({ ...opts, hops: opts.hops.map((h) => h.id) });
  let timer: NodeJS.Timeout | null = null;
  let abandoned = false;
  let resolveActive: () => void = () => undefined;
  let rejectActive: (e: PathClosedError) => void = () => undefined;
  let resolveClosed: (e: PathEnd) => void = () => undefined;
  const active = new Promise<void>((res, rej) => {
    resolveActive = res;
    rejectActive = rej;
  });
  active.catch(() => undefined);
  const closed = new Promise<PathEnd>((res) => {
    resolveClosed = res;
  });

  const input = (i: PathInput) => {
    if (abandoned) return;
    const r = pathTransition(state, i, { now: clock() });
    state = r.state;
    for (const e of r.effects) carryOut(e);
  };
  const reason = shortMessageOf;

  const carryOut = (e: PathEffect) => {
    switch (e.type) {
      case "SendQuoteRequest": {
        const h = hops.get(e.hop)!;
        h.quote(e.request).then(
          (quote) => input({ type: "ReceiveQuote", hop: e.hop, quote }),
          (err) => input({ type: "ReceiveQuoteRefused", hop: e.hop, reason: reason(err) }),
        );
        return;
      }
      case "NotifyEnsureChannel":
        hops
          .get(e.hop)!
          .ensureChannel(e.quote)
          .then(
            (channelId) => input({ type: "ActionChannelReady", hop: e.hop, channelId }),
            (err) => input({ type: "ActionChannelFailed", hop: e.hop, reason: reason(err) }),
          );
        return;
      case "SendActivate":
        hops
          .get(e.hop)!
          .activate(state.sessionId, e.request)
          .then(
            () => input({ type: "ReceiveLaneActive", hop: e.hop }),
            (err) => input({ type: "ReceiveLaneFailed", hop: e.hop, reason: reason(err) }),
          );
        return;
      case "SendPayment":
        hops
          .get(e.hop)!
          .pay(state.sessionId, e.total)
          .catch((err: unknown) => {
            input({ type: "ReceiveLaneFailed", hop: e.hop, reason: `payment: ${reason(err)}` });
          });
        return;
      case "SendTeardown":
        hops
          .get(e.hop)!
          .teardown(state.sessionId)
          .then(
            () => input({ type: "ReceiveLaneRemoved", hop: e.hop }),
            // A failed removal still moves on: the hop's lease runs out without payments.
            () => input({ type: "ReceiveLaneRemoved", hop: e.hop }),
          );
        return;
      case "NotifyPathActive":
        resolveActive();
        return;
      case "NotifyPathClosed":
        if (timer !== null) clearInterval(timer);
        timer = null;
        rejectActive(new PathClosedError(e));
        resolveClosed({ code: e.code, hop: e.hop, outcome: e.outcome, wasActive: e.wasActive });
        return;
    }
  };

  timer = setInterval(() => input({ type: "ActionTick" }), opts.tickMs ?? 200);
  input({ type: "ActionStart" });
  return {
    active,
    closed,
    state: () => state,
    stop(why = "done") {
      input({ type: "ActionStop", reason: why });
      return closed;
    },
    abandon() {
      abandoned = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      for (const h of opts.hops) h.abandon();
      const closure: PathClosure = { code: "ABANDONED", hop: null, outcome: "abandoned" };
      rejectActive(new PathClosedError(closure));
      resolveClosed({ ...closure, wasActive: state.wasActive });
    },
  };
}
