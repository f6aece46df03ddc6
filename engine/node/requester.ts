/** A requester: opens channels on chain, pays providers over the relay, settles cooperatively. */
import { getBytes, type HDNodeWallet, type Wallet } from "ethers";
import type { ChainClient } from "../../channels/chain/client.ts";
import type { OpenedChannel, TxOutcome } from "../../channels/chain/types.ts";
import type { ChannelStore } from "../../channels/store/channel-store.ts";
import type { Address } from "../../channels/types.ts";
import { type ChannelRef, connect, type RequesterClient, type Session } from "../../relay/index.ts";
import { MarketClient } from "./market-client.ts";

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
  /** Settles a channel cooperatively: both sign over the socket, then one transaction. */
  settle(
    client: RequesterClient,
    channel: RequesterChannel,
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
    ...(opts.marketUrl
      ? { market: new MarketClient(opts.marketUrl, opts.wallet as Wallet, chainId) }
      : {}),
    async openChannel(partner, deposit, settleWindow = 3600) {
      const opened = await opts.chain.open({
        partner,
        amount: deposit,
        settleWindow,
        permit: true,
      });
      return {
        ...opened,
        ref: {
          channelId: opened.channelId,
          salt: opened.participants.salt,
          openBlock: opened.participants.openBlock,
          depositA: deposit,
        },
      };
    },
    connect(url) {
      return connect({
        key: getBytes(opts.wallet.privateKey),
        url,
        domain: opts.chain.domain,
        ...(opts.store ? { store: opts.store } : {}),
      });
    },
    async settle(client, channel) {
      const signed = await client.settle(channel.channelId);
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
