/** A requester: opens channels on chain, pays providers over the relay, settles cooperatively. */
import { getBytes, type HDNodeWallet, type Wallet } from "ethers";
import type {
  Address,
  ChainClient,
  ChannelId,
  ChannelParticipants,
  ChannelStore,
  OpenedChannel,
  TxOutcome,
} from "../../channels/index.ts";
import {
  type ChannelRef,
  connect,
  RelayError,
  type RequesterClient,
  type Session,
} from "../../relay/index.ts";
import { MarketClient } from "./market-client.ts";
import { within } from "./within.ts";

/** Options of {@link createRequester}. */
export interface RequesterOptions {
  readonly wallet: Wallet | HDNodeWallet;
  /** A chain client signed by the same wallet. */
  readonly chain: ChainClient;
  readonly marketUrl?: string;
  /** Where its channels are kept, so that a restarted requester continues them (see `connect`). */
  readonly store?: ChannelStore;
}

/** A channel the requester opened, with what sessions need to use it. */
export interface RequesterChannel extends OpenedChannel {
  readonly ref: ChannelRef;
}

/** A requester; see {@link createRequester}. */
export interface Requester {
  readonly market?: MarketClient;
  /** Opens a channel to `partner` with a permit (approve and open in one transaction). */
  openChannel(partner: Address, deposit: bigint, settleWindow?: number): Promise<RequesterChannel>;
  /** Connects and authenticates to a provider's relay. */
  connect(url: string): Promise<RequesterClient>;
  /**
   * Settles a channel cooperatively: both sign over the socket, then one transaction.
   * @param countersignMs how long to wait for the provider's signature (default: no limit); past
   *   it nothing is submitted, so a unilateral close can follow without racing this one.
   * @throws RelayError TIMEOUT past `countersignMs`, the provider's refusal, CONNECTION_LOST;
   *   ChainError.
   */
  settle(
    client: RequesterClient,
    channel: RequesterChannel,
    countersignMs?: number,
  ): Promise<TxOutcome & { payoutA: bigint; payoutB: bigint }>;
}

/**
 * A requester for `wallet`.
 * @example
 * const r = createRequester({ wallet, chain });
 * const ch = await r.openChannel(provider, 5n * 10n ** 18n);
 * const client = await r.connect(providerUrl);
 * const session = await client.openSession({ channel: ch.ref, mode: "second", unitPrice, tunnel: { kind: "proxy" } });
 */
export function createRequester(opts: RequesterOptions): Requester {
  const chainId = Number(opts.chain.chainId);
  return {
    ...(opts.marketUrl ? { market: new MarketClient(opts.marketUrl, opts.wallet, chainId) } : {}),
    async openChannel(partner, deposit, settleWindow = 3600) {
      const opened = await opts.chain.open({
        partner,
        amount: deposit,
        settleWindow,
        permit: true,
      });
      return { ...opened, ref: channelRefOf(opened.channelId, opened.participants, deposit) };
    },
    connect(url) {
      return connect({
        key: getBytes(opts.wallet.privateKey),
        url,
        domain: opts.chain.domain,
        ...(opts.store ? { store: opts.store } : {}),
      });
    },
    async settle(client, channel, countersignMs) {
      const asked = client.settle(channel.channelId);
      const signed =
        countersignMs === undefined
          ? await asked
          : await within(
              asked,
              countersignMs,
              () =>
                new RelayError("TIMEOUT", "timed out waiting for the provider's countersignature", {
                  ms: countersignMs,
                }),
            );
      const tx = await opts.chain.cooperativeClose(
        channel.participants,
        signed.settlement.payoutA,
        signed.settlement.payoutB,
        signed.signatureA,
        signed.signatureB,
      );
      return { ...tx, payoutA: signed.settlement.payoutA, payoutB: signed.settlement.payoutB };
    },
  };
}

/** The reference to a channel that the relay's OPEN carries, with the deposits it holds. */
export function channelRefOf(
  channelId: ChannelId,
  participants: ChannelParticipants,
  depositA: bigint,
  depositB?: bigint,
): ChannelRef {
  return {
    channelId,
    salt: participants.salt,
    openBlock: participants.openBlock,
    depositA,
    ...(depositB !== undefined ? { depositB } : {}),
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
