/**
 * The requester's side of fast lanes (shell): one authenticated relay connection and one
 * on-chain channel per ISP node, both reused across paths. `hop(id, url)` gives the path runner
 * a hop that asks the node for a quote (QUOTE), opens or reuses a channel on chain, opens a
 * `qos` session that the node activates on credit, pays it per second once the whole path is
 * up, and on teardown closes the session and waits for the node to say its lane is down.
 */
import type { Address, ChannelId, SettlementBackend } from "../../channels/index.ts";
import { RelayError } from "../errors.ts";
import { closeCooperatively, openChannel } from "../requester/channel-funds.ts";
import {
  connect,
  type RequesterClient,
  type Session,
  type SessionChannel,
  type SessionEnd,
} from "../requester/client.ts";
import type { LaneQuote, LaneRequest } from "./path.ts";
import type { FastLaneHop } from "./path-runner.ts";

/** Options of `FastLaneRequester`. */
export interface FastLaneRequesterOptions {
  /** The requester's 32-byte wallet key (participant A of its channels). */
  readonly key: Uint8Array;
  /** The chain, through the settlement interface: opens and settles the channels with the ISPs. */
  readonly settlement: SettlementBackend;
  /** What a new channel with an ISP holds, token base units. */
  readonly deposit: bigint;
  /** Settle window of new channels, seconds (default 3,600). */
  readonly settleWindow?: number;
  /** A channel is reused while it can still pay this many seconds of a lane (default 60). */
  readonly reuseSeconds?: bigint;
  /** How long a hop's teardown waits for the node to confirm, ms (default 5,000). */
  readonly teardownTimeoutMs?: number;
}

/** What the requester holds with one ISP. */
export interface IspAccount {
  readonly payee: Address;
  readonly channel: SessionChannel;
  /** Cumulative amount signed on the channel. */
  readonly signed: bigint;
}

/** A channel settled on chain. */
export interface IspSettlement {
  readonly payee: Address;
  readonly channelId: ChannelId;
  /** What the ISP received on chain. */
  readonly payoutB: bigint;
  /** What came back to the requester. */
  readonly payoutA: bigint;
}

interface Account {
  readonly client: RequesterClient;
  readonly channel: SessionChannel;
}

/** A requester's connections and channels with ISP nodes. */
export class FastLaneRequester {
  readonly #opts: FastLaneRequesterOptions;
  readonly #clients = new Map<string, Promise<RequesterClient>>();
  readonly #accounts = new Map<Address, Account>();
  /** Channels opened on chain (not reused), for reports and tests. */
  opened = 0;

  /** @param opts - see `FastLaneRequesterOptions` */
  constructor(opts: FastLaneRequesterOptions) {
    this.#opts = opts;
  }

  /** What the requester holds with each ISP it has paid. */
  accounts(): IspAccount[] {
    return [...this.#accounts].map(([payee, { client, channel }]) => ({
      payee,
      channel,
      signed: client.channel(channel.channelId)?.sent?.proof.transferred ?? 0n,
    }));
  }

  /**
   * A hop of one path: the ISP node at `url`, named `id` on the path.
   * @example
   * const lanes = new FastLaneRequester({ key, settlement, deposit: 10n ** 18n });
   * const path = runPath({ sessionId: "call-1", request, maxPricePerSecond,
   *   hops: urls.map((url, i) => lanes.hop(`isp${i + 1}`, url)) });
   */
  hop(id: string, url: string): FastLaneHop {
    let client: RequesterClient | null = null;
    let price = 0n;
    let channel: SessionChannel | null = null;
    let opening: Promise<Session> | null = null;
    let session: Session | null = null;
    let end: SessionEnd | null = null;
    let paying = false;
    const params = (r: LaneRequest) => ({ ...r.flow, rateKbit: r.rateKbit });
    return {
      id,
      quote: async (request) => {
        client = await this.#connect(url);
        const q = await client.quote({
          mode: "second",
          tunnel: { kind: "qos", params: params(request) },
        });
        if (!q.activateOnCredit) {
          throw new RelayError(
            "TUNNEL_UNAVAILABLE",
            "the node opens lanes only after a payment: an aborted path would pay it",
          );
        }
        return {
          hop: id,
          payee: client.provider,
          rateKbit: request.rateKbit,
          pricePerSecond: q.unitPrice,
          creditLimit: q.creditLimit,
        };
      },
      ensureChannel: async (quote) => {
        if (client === null) throw new RelayError("CHANNEL_UNKNOWN", "no quote yet");
        price = quote.pricePerSecond;
        channel = await this.#ensureChannel(client, quote);
        return channel.channelId;
      },
      activate: async (sessionId, request) => {
        if (client === null || channel === null) {
          throw new RelayError("CHANNEL_UNKNOWN", "no channel yet");
        }
        opening = client.openSession({
          channel,
          dealId: sessionId,
          mode: "second",
          unitPrice: price,
          tunnel: { kind: "qos", params: params(request) },
          startPaused: true,
        });
        session = await opening;
        void session.closed.then((e) => {
          end = e;
        });
      },
      // The session pays every started second by its own clock, from the lane's activation (as
      // the node counts), so the path's running total is only a floor.
      pay: async () => {
        if (session === null || end !== null) {
          throw new RelayError(end?.code ?? "SESSION_UNKNOWN", end?.reason ?? "no session");
        }
        if (!paying) {
          paying = true;
          session.resumePaying();
        }
      },
      teardown: async () => {
        // A lane still coming up (the path aborted at another hop) is closed once it is up.
        const s = session ?? (await opening?.catch(() => null)) ?? null;
        if (s === null) return;
        await s.close("path closed");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          s.released,
          new Promise((r) => {
            timer = setTimeout(r, this.#opts.teardownTimeoutMs ?? 5_000);
          }),
        ]);
        clearTimeout(timer);
      },
      abandon: () => {
        paying = false;
        session?.stopPaying();
      },
    };
  }

  /**
   * Settles every channel cooperatively at its latest balances (signed by both over the relay)
   * and submits the settlements on chain; the next path opens new channels.
   * @throws RelayError when a node refuses to countersign; SettlementError when a close fails
   */
  async settle(): Promise<IspSettlement[]> {
    const out: IspSettlement[] = [];
    for (const [payee, { client, channel }] of this.#accounts) {
      const { payoutA, payoutB } = await closeCooperatively(
        client,
        this.#opts.settlement,
        channel.channelId,
      );
      this.#accounts.delete(payee);
      out.push({ payee, channelId: channel.channelId, payoutA, payoutB });
    }
    return out;
  }

  /** Closes every connection (sessions still open are closed with them). */
  async close(): Promise<void> {
    const clients = await Promise.allSettled(this.#clients.values());
    this.#clients.clear();
    for (const c of clients) if (c.status === "fulfilled") await c.value.close();
  }

  #connect(url: string): Promise<RequesterClient> {
    let c = this.#clients.get(url);
    if (c === undefined) {
      c = connect({ key: this.#opts.key, url, domain: this.#opts.settlement.domain });
      this.#clients.set(url, c);
      // A failed connection is tried again by the next path.
      c.catch(() => this.#clients.delete(url));
    }
    return c;
  }

  /** The channel with the quote's payee: reused while it can pay, else opened on chain. */
  async #ensureChannel(client: RequesterClient, quote: LaneQuote): Promise<SessionChannel> {
    const payee = client.provider;
    if (quote.payee.toLowerCase() !== payee.toLowerCase()) {
      throw new RelayError("CHANNEL_NOT_PARTICIPANT", "the quote names another payee");
    }
    const need = quote.pricePerSecond * (this.#opts.reuseSeconds ?? 60n);
    const have = this.#accounts.get(payee);
    if (have !== undefined && have.client === client) {
      const signed = client.channel(have.channel.channelId)?.sent?.proof.transferred ?? 0n;
      if (have.channel.depositA - signed >= need) return have.channel;
    }
    const { tx: _, ...channel } = await openChannel(this.#opts.settlement, {
      partner: payee,
      amount: this.#opts.deposit,
      settleWindow: this.#opts.settleWindow ?? 3_600,
    });
    this.opened++;
    this.#accounts.set(payee, { client, channel });
    return channel;
  }
}
