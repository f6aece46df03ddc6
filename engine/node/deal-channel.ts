/**
 * A deal and its payment channel, from the market's match to the close, as the CLI's `requester`
 * and `provider` and the demo run it. The requester places its request, accepts the
 * deal once its capacity allows, pays for it over a channel with the deal's provider (an open one
 * whose latest proof it holds, topped up when it runs short, else a new one), runs paid sessions
 * on it, and at the end leaves the channel open or closes it: cooperatively, else unilaterally,
 * never leaving a deposit locked without saying so. The provider's side is {@link serveDeals}.
 */
import type { HDNodeWallet, Wallet } from "ethers";
import {
  type Address,
  type BalanceProof,
  type ChannelId,
  type ChannelStore,
  type SettlementBackend,
  TollwayError,
  within,
} from "../../channels/index.ts";
import {
  type OpenSessionOptions,
  type RequesterClient,
  type Session,
  type SessionEnd,
  topUpChannel,
} from "../../relay/index.ts";
import type { RequestSpec } from "../market/types.ts";
import { closeWithProof, openChannelsTo } from "./channel-actions.ts";
import type { DealView, MarketClient } from "./market-client.ts";
import { createRequester, type RequesterChannel, waitForAcks } from "./requester.ts";

/** Why a step of a deal failed. */
export type DealChannelErrorCode =
  /** No offer matched the request (it rests in the book). */
  | "NOT_FOUND"
  /** The market or the provider did not answer in time. */
  | "TIMEOUT"
  /** A step was called before the one it follows (no deal placed, no channel yet). */
  | "OUT_OF_ORDER";

/** A failure of a deal step; `code` says which. */
export class DealChannelError extends TollwayError<DealChannelErrorCode> {
  /**
   * @param code - NOT_FOUND (nothing matched), TIMEOUT (a side stayed silent), OUT_OF_ORDER
   * @param message - short human-readable message
   */
  constructor(code: DealChannelErrorCode, message: string) {
    super(code, message);
    this.name = "DealChannelError";
  }
}

/** How long each wait of a deal lasts, ms. */
export interface DealTimeouts {
  /** For the market to credit the requester's capacity with the deal's cost (default 10,000). */
  readonly capacityMs: number;
  /** For the provider to accept the deal (default 15,000). */
  readonly acceptMs: number;
  /** For a session to close, and then for the provider's last ACK (default 3,000 each). */
  readonly sessionCloseMs: number;
  /**
   * For the provider's countersignature of a cooperative close (default 10,000); past it the
   * close is unilateral.
   */
  readonly cooperativeCloseMs: number;
}

const DEFAULT_TIMEOUTS: DealTimeouts = {
  capacityMs: 10_000,
  acceptMs: 15_000,
  sessionCloseMs: 3_000,
  cooperativeCloseMs: 10_000,
};
const POLL_MS = 250;

/** Options of {@link createDealChannel}. */
export interface DealChannelOptions {
  readonly wallet: Wallet | HDNodeWallet;
  /** The chain, through the settlement interface, acting for the same wallet. */
  readonly settlement: SettlementBackend;
  readonly marketUrl: string;
  /** The provider's relay (ws://host:port). */
  readonly relay: string;
  /**
   * The requester's channel store. With one, a deal reuses an open channel to its provider whose
   * latest proof the store holds, and a restarted requester continues its channels; without one
   * every deal opens a new channel.
   */
  readonly store?: ChannelStore;
  /** First block with channels of ours (the deployment's block; default 0). */
  readonly fromBlock?: number;
  /** Deposit of a new channel, and top-up of a reused one that cannot cover the deal. */
  readonly deposit: bigint;
  /** Settle window of a new channel, seconds. */
  readonly settleWindow: number;
  /** Aborts the waits and steps of the deal with `signal.reason`; `finish` still closes out. */
  readonly signal?: AbortSignal;
  /** Runs before each deposit, e.g. a balance check that words a shortfall for the user. */
  readonly beforeDeposit?: (amount: bigint) => Promise<void>;
  readonly timeouts?: Partial<DealTimeouts>;
}

/** The channel a deal pays over, as {@link DealChannel.openChannel} found or opened it. */
export interface DealChannelOpened {
  readonly channel: RequesterChannel;
  /** An open channel from an earlier deal, not a new one. */
  readonly reused: boolean;
  /** What the requester could still pay on it before any top-up. */
  readonly left: bigint;
  /** What was added to a reused channel that could not cover the deal (0 when nothing). */
  readonly toppedUp: bigint;
}

/** A session's options; the deal supplies the channel, the deal id and (by default) the price. */
export type DealSessionOptions = Omit<OpenSessionOptions, "channel" | "dealId" | "unitPrice"> & {
  /** Default: the deal's price. */
  readonly unitPrice?: bigint;
};

/** Where the channel stands after {@link DealChannel.finish}. Amounts in token base units. */
export type DealChannelEnd =
  | { readonly status: "none" }
  | {
      readonly status: "closed";
      readonly channelId: ChannelId;
      readonly payoutA: bigint;
      readonly payoutB: bigint;
      readonly tx: string;
      readonly gasUsed: bigint;
      /** What the provider's token balance gained by the close (unchanged if unreadable). */
      readonly paidOnChain: bigint;
    }
  | {
      readonly status: "closing";
      readonly channelId: ChannelId;
      /** ISO time after which the channel can be settled. */
      readonly finalizesAt: string;
      readonly tx: string;
      /** Why the cooperative close was not made (absent when there was no connection to ask). */
      readonly cooperativeError?: unknown;
    }
  | {
      readonly status: "open";
      readonly channelId: ChannelId;
      /** The requester's deposit less what it has paid. */
      readonly left: bigint;
      /** Why the close failed; absent when the channel was kept open on purpose. */
      readonly closeError?: unknown;
      readonly cooperativeError?: unknown;
    };

/** One deal of a requester, step by step; see {@link createDealChannel}. */
export interface DealChannel {
  readonly market: MarketClient;
  /** The deal, once placed (its latest view). */
  readonly deal: DealView | undefined;
  /** The channel, once opened or reused. */
  readonly channel: RequesterChannel | undefined;
  readonly reused: boolean;
  /**
   * Places the request and takes the first deal it made.
   * @throws DealChannelError NOT_FOUND when no offer matched; MarketApiError.
   */
  place(request: RequestSpec): Promise<DealView>;
  /**
   * Waits until the market credits the requester's capacity with the deal's cost, accepts, and
   * waits for the provider's acceptance.
   * @throws DealChannelError TIMEOUT, OUT_OF_ORDER; MarketApiError; the signal's reason.
   */
  accept(): Promise<DealView>;
  /**
   * Finds the channel to pay over (reuses one, topping it up if short, or opens one), reports it
   * to the market, and connects to the provider's relay.
   * @throws DealChannelError OUT_OF_ORDER; SettlementError (and the backend's errors when it
   *   cannot reach its chain); MarketApiError; RelayError; the signal's reason.
   */
  openChannel(): Promise<DealChannelOpened>;
  /**
   * Opens a paid session on the deal's channel.
   * @throws DealChannelError OUT_OF_ORDER; RelayError.
   */
  openSession(o: DealSessionOptions): Promise<Session>;
  /**
   * Ends a session with its last payment and waits (briefly) for the provider's last ACK.
   * @returns how it ended, or undefined when it could not close in time.
   */
  endSession(session: Session): Promise<SessionEnd | undefined>;
  /** The latest proof sent on the deal's channel. */
  sent(): BalanceProof | undefined;
  /**
   * Ends the sessions still open, then leaves the channel open (`keepOpen`) or closes it:
   * cooperatively, else unilaterally (its settle window starts). Never throws; a second call
   * returns the first one's answer.
   */
  finish(o?: { readonly keepOpen?: boolean }): Promise<DealChannelEnd>;
  /** Closes the connection to the relay (sessions end, the channel is left as it is). */
  close(): Promise<void>;
}

/**
 * A requester's deal, from placing the request to the channel's close.
 * @example
 * const deal = createDealChannel({ wallet, settlement, marketUrl, relay, deposit, settleWindow: 600 });
 * await deal.place(proxyRequest(wallet.address, maxPrice, 30));
 * await deal.accept();
 * await deal.openChannel();
 * const session = await deal.openSession({ mode: "second", tunnel: { kind: "proxy" } });
 * // … use session.tunnel …
 * const end = await deal.finish();
 * await deal.close();
 */
export function createDealChannel(opts: DealChannelOptions): DealChannel {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const { settlement, signal } = opts;
  const requester = createRequester({
    wallet: opts.wallet,
    settlement,
    marketUrl: opts.marketUrl,
    ...(opts.store ? { store: opts.store } : {}),
  });
  const market = requester.market!;
  const me = opts.wallet.address as Address;
  let deal: DealView | undefined;
  let channel: RequesterChannel | undefined;
  let reused = false;
  let client: RequesterClient | undefined;
  let finished: Promise<DealChannelEnd> | undefined;
  const sessions = new Set<Session>();

  const waitFor = async <T>(what: string, ms: number, probe: () => Promise<T | undefined>) => {
    const end = Date.now() + ms;
    for (;;) {
      signal?.throwIfAborted();
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new DealChannelError("TIMEOUT", `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const placed = (): DealView => {
    if (!deal) throw new DealChannelError("OUT_OF_ORDER", "no deal yet: place the request first");
    return deal;
  };
  const opened = () => {
    if (!channel || !client)
      throw new DealChannelError("OUT_OF_ORDER", "no channel yet: open it first");
    return { deal: placed(), channel, client };
  };
  const sent = () => (channel ? client?.channel(channel.channelId)?.sent?.proof : undefined);
  const left = (ch: RequesterChannel) => ch.depositA - (sent()?.transferred ?? 0n);

  const endSession = async (session: Session): Promise<SessionEnd | undefined> => {
    sessions.delete(session);
    // A session that cannot close in time (its connection is gone) must not keep the channel open.
    const end = await within(
      session.close(),
      timeouts.sessionCloseMs,
      () => new DealChannelError("TIMEOUT", "timed out waiting for the session to close"),
    ).catch(() => undefined);
    if (client) await waitForAcks(client, session, timeouts.sessionCloseMs);
    return end;
  };

  const closeOut = async (keepOpen: boolean): Promise<DealChannelEnd> => {
    if (!channel) return { status: "none" };
    const ch = channel;
    const id = ch.channelId;
    for (const s of [...sessions]) await endSession(s);
    if (keepOpen) return { status: "open", channelId: id, left: left(ch) };
    // The figure is only reported: a balance that cannot be read counts as unchanged.
    const provider = placed().provider;
    const before = await settlement.balanceOf(provider).catch(() => 0n);
    let cooperativeError: unknown;
    if (client) {
      try {
        const s = await requester.settle(client, ch, timeouts.cooperativeCloseMs);
        const after = await settlement.balanceOf(provider).catch(() => before);
        return {
          status: "closed",
          channelId: id,
          payoutA: s.payoutA,
          payoutB: s.payoutB,
          tx: s.hash,
          gasUsed: s.gasUsed,
          paidOnChain: after - before,
        };
      } catch (err) {
        cooperativeError = err;
      }
    }
    const failed = client ? { cooperativeError } : {};
    try {
      const received =
        client?.channel(id)?.received ?? (await opts.store?.loadChannel(id))?.received;
      const out = await closeWithProof(settlement, id, received ?? undefined);
      return {
        status: "closing",
        channelId: id,
        finalizesAt: out.finalizesAt,
        tx: out.tx,
        ...failed,
      };
    } catch (closeError) {
      return { status: "open", channelId: id, left: left(ch), closeError, ...failed };
    }
  };

  /** An open channel to `provider` this account can pay on again, with what is left on it. */
  const reusable = async (
    store: ChannelStore,
    provider: Address,
  ): Promise<{ channel: RequesterChannel; left: bigint } | undefined> => {
    for (const f of await openChannelsTo(settlement, me, provider, opts.fromBlock ?? 0)) {
      // Only a channel whose latest proof we hold: paying on one we lost would reuse its nonces.
      const stored = await store.loadChannel(f.channelId);
      if (stored?.status !== "open" || stored.settlement) continue;
      return {
        channel: f,
        left:
          f.depositA -
          (stored.sent?.proof.transferred ?? 0n) +
          (stored.received?.proof.transferred ?? 0n),
      };
    }
    return undefined;
  };

  return {
    market,
    get deal() {
      return deal;
    },
    get channel() {
      return channel;
    },
    get reused() {
      return reused;
    },

    async place(request) {
      const answer = await market.place(request);
      const first = answer.deals[0];
      if (!first)
        throw new DealChannelError(
          "NOT_FOUND",
          `no offer in the market matches (request ${answer.orderId} rests in the book)`,
        );
      deal = first;
      return first;
    },

    async accept() {
      const d = placed();
      const maxCost = BigInt(d.maxCost);
      await waitFor("the market to credit your capacity", timeouts.capacityMs, async () => {
        const w = await market.walletOf();
        return BigInt(w.balance) - BigInt(w.reserved) >= maxCost ? true : undefined;
      });
      await market.accept(d);
      deal = await waitFor("the provider to accept", timeouts.acceptMs, async () => {
        const now = await market.deal(d.id);
        return now.status === "accepted" || now.status === "active" ? now : undefined;
      });
      return deal;
    },

    async openChannel() {
      const d = placed();
      signal?.throwIfAborted();
      const maxCost = BigInt(d.maxCost);
      const found = opts.store ? await reusable(opts.store, d.provider) : undefined;
      let toppedUp = 0n;
      if (found) {
        reused = true;
        channel = found.channel;
        if (found.left < maxCost) {
          await opts.beforeDeposit?.(opts.deposit);
          // The deposits as the chain holds them after the top-up.
          const { tx: _, ...topped } = await topUpChannel(
            settlement,
            found.channel.channelId,
            opts.deposit,
          );
          channel = topped;
          toppedUp = opts.deposit;
        }
      } else {
        await opts.beforeDeposit?.(opts.deposit);
        channel = await requester.openChannel(d.provider, opts.deposit, opts.settleWindow);
      }
      signal?.throwIfAborted();
      await market.channelReady(d.id, channel.channelId);
      client = await requester.connect(opts.relay);
      return { channel, reused, left: found?.left ?? opts.deposit, toppedUp };
    },

    async openSession(o) {
      const { deal: d, channel: ch, client: c } = opened();
      const session = await c.openSession({
        ...o,
        channel: ch,
        dealId: d.id,
        unitPrice: o.unitPrice ?? BigInt(d.price),
      });
      sessions.add(session);
      return session;
    },

    endSession,
    sent,

    finish(o = {}) {
      finished ??= closeOut(o.keepOpen === true);
      return finished;
    },

    async close() {
      await client?.close();
    },
  };
}

/**
 * The provider's side of its deals, one pass: accepts what the market proposed to `market`'s
 * wallet, and reports the tunnel up for each accepted deal whose channel the requester reported.
 * @throws MarketApiError when the market refuses an answer.
 */
export async function serveDeals(market: MarketClient): Promise<void> {
  for (const d of await market.deals()) {
    if (d.status === "proposed" && !d.providerAccepted) await market.accept(d);
    else if (d.status === "accepted" && d.channelReady && !d.tunnelUp) await market.tunnelUp(d.id);
  }
}

/** A running {@link startServingDeals} loop. */
export interface DealServer {
  /** Stops the loop once the pass under way (if any) is done. */
  stop(): Promise<void>;
}

/**
 * Runs {@link serveDeals} every `intervalMs` (default 500) until stopped, one pass at a time; a
 * failed pass goes to `onError` and the next one runs as usual.
 */
export function startServingDeals(
  market: MarketClient,
  o: { readonly intervalMs?: number; readonly onError?: (err: unknown) => void } = {},
): DealServer {
  const intervalMs = o.intervalMs ?? 500;
  let stopped = false;
  let pass: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      pass = serveDeals(market)
        .catch((err: unknown) => o.onError?.(err))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
