/**
 * One run of the `requester` role: buy a deal, pay for it over a channel (reusing an open one
 * with the same provider), and never leave the deposit locked without saying so: on Ctrl-C or a
 * failure the channel is closed cooperatively, or else a unilateral close starts its window.
 */
import type { HDNodeWallet, Wallet } from "ethers";
import type { ChannelStore } from "../../../channels/store/index.ts";
import type { Address, ChannelId } from "../../../channels/types.ts";
import type { RequesterClient, Session } from "../../../relay/index.ts";
import { type CrawlCounters, fetchThroughProxy } from "../../demo/crawler.ts";
import { closeWithProof, openChannelsTo } from "../../node/channel-actions.ts";
import type { DealView } from "../../node/market-client.ts";
import { proxyRequest } from "../../node/order-specs.ts";
import { createRequester, type RequesterChannel } from "../../node/requester.ts";
import type { ChainContext } from "../context.ts";
import { CliError, errorCode, explain } from "../errors.ts";
import { formatTokens, type TokenUnit } from "../flags.ts";
import { requireFunds } from "../token.ts";

/** What the requester was asked to do (flags, validated). */
export interface BuyOptions {
  readonly market: string;
  readonly relay: string;
  readonly target: URL;
  readonly seconds: number;
  readonly deposit: bigint;
  readonly maxPrice: bigint;
  readonly country: string;
  /** Settle window of a new channel, seconds. */
  readonly window: number;
  /** Leave the channel open at the end (for the next run) instead of settling it. */
  readonly keepOpen: boolean;
}

/** Where the channel stands when the run ends. */
export type ChannelOutcome =
  | { readonly status: "none"; readonly note: string }
  | {
      readonly status: "closed";
      readonly channelId: ChannelId;
      readonly cooperative: true;
      readonly payoutA: bigint;
      readonly payoutB: bigint;
      readonly tx: string;
      readonly gasUsed: bigint;
      readonly note: string;
    }
  | {
      readonly status: "closing";
      readonly channelId: ChannelId;
      readonly finalizesAt: string;
      readonly tx: string;
      readonly note: string;
    }
  | { readonly status: "open"; readonly channelId: ChannelId; readonly note: string };

/** How long the cooperative close may take before a unilateral close is started instead. */
const COOPERATIVE_CLOSE_MS = 10_000;

/**
 * Buys and pays until `o.seconds` pass or `stop` aborts; then settles, leaves open, or closes.
 * @throws CliError INTERRUPTED (exit 130) when `stop` aborted the run, after the channel was
 *   closed or its close started (the message says which); any other failure after the same.
 */
export async function runRequester(
  ctx: ChainContext,
  unit: TokenUnit,
  store: ChannelStore,
  o: BuyOptions,
  stop: AbortSignal,
  say: (line: string) => void,
  report: (summary: Record<string, unknown>) => void,
): Promise<void> {
  const requester = createRequester({
    wallet: ctx.chain.signer as Wallet | HDNodeWallet,
    chain: ctx.chain,
    marketUrl: o.market,
    store,
  });
  const market = requester.market!;
  let channel: RequesterChannel | undefined;
  let reused = false;
  let client: RequesterClient | undefined;
  let session: Session | undefined;
  const counters: CrawlCounters = { bytes: 0, pages: 0 };
  const checkStop = () => {
    if (stop.aborted) throw new CliError("INTERRUPTED", "interrupted", { exitCode: 130 });
  };
  const waitFor = async <T>(what: string, ms: number, probe: () => Promise<T | undefined>) => {
    const end = Date.now() + ms;
    for (;;) {
      checkStop();
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new CliError("CHAIN", `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const summary = (outcome: ChannelOutcome, paidOnChain: bigint) => {
    const sent = channel ? (client?.channel(channel.channelId)?.sent?.proof ?? null) : null;
    return {
      ...(channel ? { channelId: channel.channelId } : {}),
      reused,
      proofsSent: Number(sent?.nonce ?? 0n),
      proofsAcked: Number(session?.ackedNonce ?? 0n),
      bytes: counters.bytes,
      pages: counters.pages,
      paidOffChain: sent?.transferred ?? 0n,
      paidOnChain,
      channel: outcome,
    };
  };

  /** Ends the session, then closes the channel: cooperatively, else unilaterally. */
  const closeOut = async (): Promise<ChannelOutcome> => {
    if (!channel) return { status: "none", note: "no channel was opened: no deposit is locked" };
    const id = channel.channelId;
    if (session) await settleSession(session, client!);
    if (client) {
      try {
        const s = await withTimeout(
          requester.settle(client, channel),
          COOPERATIVE_CLOSE_MS,
          "the provider's countersignature",
        );
        return {
          status: "closed",
          channelId: id,
          cooperative: true,
          payoutA: s.payoutA,
          payoutB: s.payoutB,
          tx: s.hash,
          gasUsed: s.gasUsed,
          note: `channel ${id} closed cooperatively: ${formatTokens(s.payoutA, unit)} back to you, ${formatTokens(s.payoutB, unit)} to the provider`,
        };
      } catch (err) {
        say(`cooperative close failed (${errorCode(err)}: ${explain(err)}); closing unilaterally`);
      }
    }
    try {
      const received =
        client?.channel(id)?.received ?? (await store.loadChannel(id))?.received ?? undefined;
      const out = await closeWithProof(ctx.chain, id, received, ctx.fromBlock);
      return {
        status: "closing",
        channelId: id,
        finalizesAt: out.finalizesAt,
        tx: out.tx,
        note: `channel ${id} is closing: its settle window ends at ${out.finalizesAt}; then \`tollway channel settle ${id}\` pays it out (the provider's node settles it too)`,
      };
    } catch (err) {
      return {
        status: "open",
        channelId: id,
        note: `channel ${id} is still OPEN and its deposit locked (the close failed: ${explain(err)}); run \`tollway channel close ${id}\``,
      };
    }
  };

  let partner: Address | undefined;
  /**
   * Closes out, and measures what the close paid the provider on chain. The figure is only
   * reported: a balance that cannot be read counts as unchanged rather than hiding the outcome.
   */
  const closeAndMeasure = async () => {
    const balance = () =>
      partner && channel ? ctx.chain.tokenBalance(partner) : Promise.resolve(0n);
    const before = await balance().catch(() => 0n);
    const outcome = await closeOut();
    const paidOnChain =
      outcome.status === "closed" ? (await balance().catch(() => before)) - before : 0n;
    return { outcome, paidOnChain };
  };

  try {
    const placed = await market.place(
      proxyRequest(ctx.me, o.maxPrice, o.seconds, { country: o.country }),
    );
    let deal: DealView | undefined = placed.deals[0];
    if (!deal)
      throw new CliError(
        "NOT_FOUND",
        `no offer in the market matches (request ${placed.orderId} rests in the book)`,
      );
    say(`deal ${deal.id} at ${formatTokens(BigInt(deal.price), unit)}/s; waiting for capacity…`);
    const maxCost = BigInt(deal.maxCost);
    await waitFor("the market to credit your capacity", 10_000, async () => {
      const w = await market.walletOf();
      return BigInt(w.balance) - BigInt(w.reserved) >= maxCost ? true : undefined;
    });
    await market.accept(deal);
    const dealId = deal.id;
    deal = await waitFor("the provider to accept", 15_000, async () => {
      const d = await market.deal(dealId);
      return d.status === "accepted" || d.status === "active" ? d : undefined;
    });
    const provider = deal.provider as Address;
    partner = provider;
    checkStop();
    const found = await reusable(ctx, store, provider);
    if (found) {
      reused = true;
      channel = found.channel;
      if (found.left < maxCost) {
        await requireFunds(ctx.chain, ctx.me, o.deposit, unit, { viaAllowance: false });
        await ctx.chain.topUp(channel.channelId, false, o.deposit);
        channel = {
          ...channel,
          ref: { ...channel.ref, depositA: channel.ref.depositA + o.deposit },
        };
        say(`topped channel ${channel.channelId} up by ${formatTokens(o.deposit, unit)}`);
      }
      say(`reusing channel ${channel.channelId} (${formatTokens(found.left, unit)} left)`);
    } else {
      await requireFunds(ctx.chain, ctx.me, o.deposit, unit, { viaAllowance: false });
      channel = await requester.openChannel(provider, o.deposit, o.window);
      say(
        `channel ${channel.channelId} opened with ${formatTokens(o.deposit, unit)} (gas ${channel.gasUsed})`,
      );
    }
    checkStop();
    await market.channelReady(deal.id, channel.channelId);
    client = await requester.connect(o.relay);
    session = await client.openSession({
      channel: channel.ref,
      dealId: deal.id,
      mode: "second",
      unitPrice: BigInt(deal.price),
      tunnel: { kind: "proxy" },
    });
    const port = Number(o.target.port || 80);
    const until = Date.now() + o.seconds * 1000;
    while (Date.now() < until) {
      checkStop();
      const r = await fetchThroughProxy(
        session.tunnel,
        { host: o.target.hostname, port },
        `${o.target.pathname}${o.target.search}`,
        counters,
      );
      if (typeof r === "number")
        throw new CliError("CHAIN", `the proxy refused the fetch with ${r}`);
    }
    if (o.keepOpen) {
      await settleSession(session, client);
      const sent = client.channel(channel.channelId)?.sent?.proof.transferred ?? 0n;
      const left = channel.ref.depositA - sent;
      report(
        summary(
          {
            status: "open",
            channelId: channel.channelId,
            note: `channel ${channel.channelId} stays open with ${formatTokens(left, unit)} left for the next run with this provider; \`tollway channel close ${channel.channelId}\` gets it back`,
          },
          0n,
        ),
      );
      return;
    }
    const { outcome, paidOnChain } = await closeAndMeasure();
    report(summary(outcome, paidOnChain));
  } catch (err) {
    const { outcome, paidOnChain } = await closeAndMeasure();
    report(summary(outcome, paidOnChain));
    if (err instanceof CliError && err.code === "INTERRUPTED")
      throw new CliError("INTERRUPTED", `interrupted: ${outcome.note}`, { exitCode: 130 });
    throw err;
  } finally {
    await client?.close();
  }
}

/** An open channel to `provider` this account can pay on again, with what is left on it. */
async function reusable(
  ctx: ChainContext,
  store: ChannelStore,
  provider: Address,
): Promise<{ channel: RequesterChannel; left: bigint } | undefined> {
  for (const f of await openChannelsTo(ctx.chain, ctx.me, provider, ctx.fromBlock)) {
    // Only a channel whose latest proof we hold: paying on one we lost would reuse its nonces.
    const stored = await store.loadChannel(f.channelId);
    if (stored?.status !== "open" || stored.settlement) continue;
    const left =
      f.depositA -
      (stored.sent?.proof.transferred ?? 0n) +
      (stored.received?.proof.transferred ?? 0n);
    return {
      channel: {
        channelId: f.channelId,
        participants: f.participants,
        hash: "",
        blockNumber: Number(f.participants.openBlock),
        gasUsed: 0n,
        ref: {
          channelId: f.channelId,
          salt: f.participants.salt,
          openBlock: f.participants.openBlock,
          depositA: f.depositA,
          depositB: f.depositB,
        },
      },
      left,
    };
  }
  return undefined;
}

/** Ends a session with its last payment and waits (briefly) for the provider's last ACK. */
async function settleSession(session: Session, client: RequesterClient): Promise<void> {
  // A session that cannot close in time (its connection is gone) must not keep the channel open.
  await withTimeout(session.close(), 3_000, "the session to close").catch(() => undefined);
  const sent = client.channel(session.channelId)?.sent?.proof.nonce ?? 0n;
  const deadline = Date.now() + 3_000;
  while (session.ackedNonce < sent && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CliError("CHAIN", `timed out waiting for ${what}`)), ms);
  });
  // The loser of the race settles later; its outcome is no longer wanted.
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
