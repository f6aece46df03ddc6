/**
 * One run of the `requester` role: buy a deal, pay for it over a channel (reusing an open one
 * with the same provider), and never leave the deposit locked without saying so: on Ctrl-C or a
 * failure the channel is closed cooperatively, or else a unilateral close starts its window. The
 * steps are the deal's (engine/node/deal-channel.ts); this file fetches and words the outcome.
 */
import type { HDNodeWallet, Wallet } from "ethers";
import type { ChannelId, ChannelStore } from "../../../channels/index.ts";
import type { Session } from "../../../relay/index.ts";
import { type CrawlCounters, fetchThroughProxy } from "../../demo/crawler.ts";
import {
  createDealChannel,
  type DealChannelEnd,
  DealChannelError,
} from "../../node/deal-channel.ts";
import { proxyRequest } from "../../node/order-specs.ts";
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
  const deal = createDealChannel({
    wallet: ctx.account.signer as Wallet | HDNodeWallet,
    settlement: ctx.account.settlement,
    marketUrl: o.market,
    relay: o.relay,
    store,
    fromBlock: ctx.fromBlock,
    deposit: o.deposit,
    settleWindow: o.window,
    signal: stop,
    beforeDeposit: (amount) =>
      requireFunds(ctx.account, ctx.me, amount, unit, { viaAllowance: false }),
  });
  let session: Session | undefined;
  const counters: CrawlCounters = { bytes: 0, pages: 0 };

  const summary = (end: DealChannelEnd) => {
    const sent = deal.sent() ?? null;
    return {
      ...(deal.channel ? { channelId: deal.channel.channelId } : {}),
      reused: deal.reused,
      proofsSent: Number(sent?.nonce ?? 0n),
      proofsAcked: Number(session?.ackedNonce ?? 0n),
      bytes: counters.bytes,
      pages: counters.pages,
      paidOffChain: sent?.transferred ?? 0n,
      paidOnChain: end.status === "closed" ? end.paidOnChain : 0n,
      channel: outcomeOf(end, unit),
    };
  };
  const finish = async (keepOpen: boolean) => {
    const end = await deal.finish({ keepOpen });
    if ("cooperativeError" in end) {
      const err = end.cooperativeError;
      say(`cooperative close failed (${errorCode(err)}: ${explain(err)}); closing unilaterally`);
    }
    report(summary(end));
    return outcomeOf(end, unit);
  };

  try {
    const placed = await deal.place(
      proxyRequest(ctx.me, o.maxPrice, o.seconds, { country: o.country }),
    );
    say(
      `deal ${placed.id} at ${formatTokens(BigInt(placed.price), unit)}/s; waiting for capacity…`,
    );
    await deal.accept();
    const ch = await deal.openChannel();
    const id = ch.channel.channelId;
    if (ch.toppedUp > 0n) say(`topped channel ${id} up by ${formatTokens(ch.toppedUp, unit)}`);
    if (ch.reused) say(`reusing channel ${id} (${formatTokens(ch.left, unit)} left)`);
    else
      say(
        `channel ${id} opened with ${formatTokens(o.deposit, unit)} (gas ${ch.channel.tx?.gasUsed ?? 0n})`,
      );
    session = await deal.openSession({ mode: "second", tunnel: { kind: "proxy" } });
    const port = Number(o.target.port || 80);
    const until = Date.now() + o.seconds * 1000;
    while (Date.now() < until) {
      stop.throwIfAborted();
      const r = await fetchThroughProxy(
        session.tunnel,
        { host: o.target.hostname, port },
        `${o.target.pathname}${o.target.search}`,
        counters,
      );
      if (typeof r === "number")
        throw new CliError("CHAIN", `the proxy refused the fetch with ${r}`);
    }
    await finish(o.keepOpen);
  } catch (err) {
    const outcome = await finish(false);
    // The deal's steps throw the signal's reason when it aborts, as the loop above does.
    if (stop.aborted && err === stop.reason)
      throw new CliError("INTERRUPTED", `interrupted: ${outcome.note}`, { exitCode: 130 });
    // A silent market or provider has always been reported as a CHAIN failure.
    if (err instanceof DealChannelError && err.code === "TIMEOUT")
      throw new CliError("CHAIN", err.shortMessage, { cause: err });
    throw err;
  } finally {
    await deal.close();
  }
}

/** The outcome as the summary prints it, with the sentence that says what to do next. */
function outcomeOf(end: DealChannelEnd, unit: TokenUnit): ChannelOutcome {
  switch (end.status) {
    case "none":
      return { status: "none", note: "no channel was opened: no deposit is locked" };
    case "closed":
      return {
        status: "closed",
        channelId: end.channelId,
        cooperative: true,
        payoutA: end.payoutA,
        payoutB: end.payoutB,
        tx: end.tx,
        gasUsed: end.gasUsed,
        note: `channel ${end.channelId} closed cooperatively: ${formatTokens(end.payoutA, unit)} back to you, ${formatTokens(end.payoutB, unit)} to the provider`,
      };
    case "closing":
      return {
        status: "closing",
        channelId: end.channelId,
        finalizesAt: end.finalizesAt,
        tx: end.tx,
        note: `channel ${end.channelId} is closing: its settle window ends at ${end.finalizesAt}; then \`tollway channel settle ${end.channelId}\` pays it out (the provider's node settles it too)`,
      };
    case "open":
      return {
        status: "open",
        channelId: end.channelId,
        note:
          "closeError" in end
            ? `channel ${end.channelId} is still OPEN and its deposit locked (the close failed: ${explain(end.closeError)}); run \`tollway channel close ${end.channelId}\``
            : `channel ${end.channelId} stays open with ${formatTokens(end.left, unit)} left for the next run with this provider; \`tollway channel close ${end.channelId}\` gets it back`,
      };
  }
}
