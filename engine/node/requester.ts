/**
 * A requester: opens channels through the settlement interface, pays providers over the relay,
 * settles cooperatively.
 */
import { getBytes, type HDNodeWallet, type Wallet } from "ethers";
import type {
  Address,
  ChannelStore,
  SettlementBackend,
  SettlementTx,
} from "../../channels/index.ts";
import {
  type CooperativeCloseTx,
  closeCooperatively,
  connect,
  openChannel,
  type RequesterClient,
  type Session,
  type SessionChannel,
} from "../../relay/index.ts";
import { MarketClient } from "./market-client.ts";

/** Options of {@link createRequester}. */
export interface RequesterOptions {
  readonly wallet: Wallet | HDNodeWallet;
  /** The chain, through the settlement interface, acting for the same wallet. */
  readonly settlement: SettlementBackend;
  readonly marketUrl?: string;
  /** Where its channels are kept, so that a restarted requester continues them (see `connect`). */
  readonly store?: ChannelStore;
}

/** A channel the requester pays on: what a session takes, and how it was opened. */
export interface RequesterChannel extends SessionChannel {
  /** The transaction that opened it; absent for a channel found open from an earlier deal. */
  readonly tx?: SettlementTx;
}

/** A requester; see {@link createRequester}. */
export interface Requester {
  readonly market?: MarketClient;
  /**
   * Opens a channel to `partner` (on PaymentChannels with a permit when the allowance is short:
   * approve and open in one transaction).
   */
  openChannel(partner: Address, deposit: bigint, settleWindow?: number): Promise<RequesterChannel>;
  /** Connects and authenticates to a provider's relay. */
  connect(url: string): Promise<RequesterClient>;
  /**
   * Settles a channel cooperatively: both sign over the socket, then one transaction.
   * @param countersignMs how long to wait for the provider's signature (default: no limit); past
   *   it nothing is submitted, so a unilateral close can follow without racing this one.
   * @throws RelayError TIMEOUT past `countersignMs`, the provider's refusal, CONNECTION_LOST;
   *   SettlementError.
   */
  settle(
    client: RequesterClient,
    channel: RequesterChannel,
    countersignMs?: number,
  ): Promise<CooperativeCloseTx>;
}

/**
 * A requester for `wallet`.
 * @example
 * const r = createRequester({ wallet, settlement });
 * const ch = await r.openChannel(provider, 5n * 10n ** 18n);
 * const client = await r.connect(providerUrl);
 * const session = await client.openSession({ channel: ch, mode: "second", unitPrice, tunnel: { kind: "proxy" } });
 */
export function createRequester(opts: RequesterOptions): Requester {
  const { settlement } = opts;
  const chainId = Number(settlement.domain.chainId);
  return {
    ...(opts.marketUrl ? { market: new MarketClient(opts.marketUrl, opts.wallet, chainId) } : {}),
    openChannel(partner, deposit, settleWindow = 3600) {
      return openChannel(settlement, { partner, amount: deposit, settleWindow });
    },
    connect(url) {
      return connect({
        key: getBytes(opts.wallet.privateKey),
        url,
        domain: settlement.domain,
        ...(opts.store ? { store: opts.store } : {}),
      });
    },
    settle(client, channel, countersignMs) {
      return closeCooperatively(
        client,
        settlement,
        channel.channelId,
        countersignMs === undefined ? {} : { countersignMs },
      );
    },
  };
}

/**
 * Waits (up to `ms`) until the provider has acknowledged every proof sent on the session's
 * channel, including the one paid with the close; returns the last nonce sent.
 */
export async function waitForAcks(
  client: RequesterClient,
  session: Session,
  ms = 3_000,
): Promise<bigint> {
  const sent = client.channel(session.channelId)?.sent?.proof.nonce ?? 0n;
  const deadline = performance.now() + ms;
  while (session.ackedNonce < sent && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return sent;
}
