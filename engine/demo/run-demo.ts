/**
 * The demo: an embedded chain, a market, a provider selling a metered proxy (or a WireGuard
 * tunnel between two namespaces), a website and a requester crawling it, paying per second and
 * then per byte, and settling on chain.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HDNodeWallet, parseUnits } from "ethers";
import { type Address, providerFor } from "../../channels/index.ts";
import type { Session } from "../../relay/index.ts";
import { deployContracts } from "../chain/deploy.ts";
import { devWallet } from "../chain/dev-accounts.ts";
import { startEmbeddedChain } from "../chain/embedded.ts";
import {
  createDealChannel,
  type DealChannel,
  type DealChannelEnd,
  DealChannelError,
  startServingDeals,
} from "../node/deal-channel.ts";
import { createMarket, type RunningMarket } from "../node/market.ts";
import type { DealView } from "../node/market-client.ts";
import { proxyOffer, proxyRequest } from "../node/order-specs.ts";
import { connectPaymentChannels } from "../node/payment-channels.ts";
import { createProvider, type Provider } from "../node/provider.ts";
import { type CrawlCounters, fetchThroughProxy } from "./crawler.ts";
import { type Site, startSite } from "./site.ts";
import {
  createWireGuardProvider,
  startWireGuardWorld,
  type WireGuardLeg,
  type WireGuardWorld,
  wireGuardLeg,
} from "./wireguard-scenario.ts";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** How long the per-second session crawls. */
  readonly seconds?: number;
  /** How many pages the per-byte session fetches. */
  readonly pages?: number;
  /**
   * `proxy` (default): the metered proxy on loopback. `wireguard`: a WireGuard tunnel between a
   * provider and a requester namespace the demo creates (root, `wg`, `wireguard-go`, `curl`).
   */
  readonly tunnel?: "proxy" | "wireguard";
  /** Stop early (Ctrl-C): open sessions end, the channel is settled, the summary is returned. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: DemoProgress) => void;
}

/** Where the demo is, for the live display. */
export interface DemoProgress {
  phase: string;
  dealId?: string;
  dealStatus?: string;
  channelId?: string;
  session?: string;
  proofsSent: number;
  proofsAcked: number;
  bytesCrawled: number;
  pagesCrawled: number;
  owed: bigint;
  paid: bigint;
}

/** One on-chain transaction of the demo. */
export interface DemoTransaction {
  readonly step: string;
  readonly hash: string;
  readonly gasUsed: bigint;
}

/** What the demo did. Amounts are token base units. */
export interface DemoSummary {
  readonly proofsSent: number;
  readonly proofsAcked: number;
  readonly proofsPerSec: number;
  readonly bytesCrawled: number;
  readonly pagesCrawled: number;
  /** What the provider acknowledged as durable, off chain. */
  readonly paidOffChain: bigint;
  /** What the provider received on chain at settlement. */
  readonly paidOnChain: bigint;
  readonly gas: Record<string, bigint>;
  readonly balances: Record<
    "provider" | "requester",
    { before: bigint; after: bigint; address: Address }
  >;
  readonly transactions: readonly DemoTransaction[];
  readonly deal: { id: string; status: string } | null;
  readonly channelId: string | null;
  readonly sessions: readonly { mode: string; end: string; signed: bigint }[];
  readonly interrupted: boolean;
  readonly durationMs: number;
  /** The namespaces the demo created (`--tunnel wireguard`; all deleted before it returns). */
  readonly namespaces: readonly string[];
}

const TOKEN = 10n ** 18n;
const PRICE_PER_SECOND = TOKEN / 1000n; // 0.001 TOLL a second
const PRICE_PER_BYTE = 10n ** 9n; // 1 TOLL a GB
const DEPOSIT = 5n * TOKEN;

/**
 * Runs the whole scenario and returns its summary; everything it started is stopped again.
 * @example const summary = await runDemo({ seconds: 6, onProgress: (p) => draw(p) });
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummary> {
  const started = performance.now();
  const seconds = opts.seconds ?? 6;
  const pages = opts.pages ?? 24;
  const signal = opts.signal ?? new AbortController().signal;
  const progress: DemoProgress = {
    phase: "starting the embedded chain",
    proofsSent: 0,
    proofsAcked: 0,
    bytesCrawled: 0,
    pagesCrawled: 0,
    owed: 0n,
    paid: 0n,
  };
  const report = () => opts.onProgress?.({ ...progress });
  const enter = (phase: string) => {
    progress.phase = phase;
    report();
  };
  const stops: (() => Promise<unknown>)[] = [];
  const transactions: DemoTransaction[] = [];
  const sessions: { mode: string; end: string; signed: bigint }[] = [];
  const dir = await mkdtemp(join(tmpdir(), "tollway-demo-"));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  let deal: DealView | undefined;
  let buyer: DealChannel | undefined;
  let market: RunningMarket | undefined;
  let provider: Provider | undefined;
  const counters: CrawlCounters = { bytes: 0, pages: 0 };
  const ticker = setInterval(report, 250);
  let result: DemoSummary | undefined;
  try {
    report();
    let world: WireGuardWorld | undefined;
    if (opts.tunnel === "wireguard") {
      enter("creating the provider and requester namespaces");
      world = await startWireGuardWorld(dir);
      stops.push(() => world!.close());
    }
    const chain = await startEmbeddedChain();
    stops.push(() => chain.stop());
    const rpc = providerFor(chain.provider!);
    const [deployer, providerWallet, requesterWallet] = [0, 1, 2].map((i) =>
      devWallet(i).connect(rpc),
    ) as [HDNodeWallet, HDNodeWallet, HDNodeWallet];
    enter("deploying Token and PaymentChannels");
    const deployment = await deployContracts(deployer, {
      holders: [deployer, providerWallet, requesterWallet].map((w) => ({
        address: w.address as Address,
        amount: parseUnits("1000", 18),
      })),
      minSettleWindow: 60,
    });
    const settlementOf = async (w: HDNodeWallet) =>
      (await connectPaymentChannels({ signer: w, deployment })).settlement;
    const providerChain = await settlementOf(providerWallet);
    const requesterChain = await settlementOf(requesterWallet);
    const balances = async () => ({
      provider: await requesterChain.balanceOf(providerWallet.address as Address),
      requester: await requesterChain.balanceOf(requesterWallet.address as Address),
    });
    const before = await balances();

    enter("starting the market, the provider and the website");
    market = await createMarket({
      dir: join(dir, "market"),
      tickMs: 200,
      verifiers: 1,
      chainId: Number((await rpc.getNetwork()).chainId),
    });
    stops.unshift(() => market!.close());
    // The site is on loopback, which the proxy refuses unless told: it allows this one port.
    const site: Site = await startSite();
    stops.unshift(() => site.close());
    const providerOpts = {
      proxy: { allow: [`127.0.0.1/32:${site.port}`] },
      wallet: providerWallet,
      settlement: providerChain,
      dataDir: join(dir, "provider"),
      marketUrl: market.url,
      pricing: {
        second: { unitPrice: PRICE_PER_SECOND, creditLimit: 2n * PRICE_PER_SECOND, graceMs: 1_000 },
        byte: {
          unitPrice: PRICE_PER_BYTE,
          creditLimit: 256n * 1024n * PRICE_PER_BYTE,
          graceMs: 1_000,
        },
      },
    };
    let gateway = "";
    if (world) {
      const wg = await createWireGuardProvider(world, providerOpts);
      gateway = wg.driver.gateway;
      provider = wg;
    } else {
      provider = await createProvider(providerOpts);
    }
    stops.unshift(() => provider!.close());
    // The provider answers its deals as `tollway provider` does: it accepts, then reports the
    // tunnel once the requester has reported the channel.
    const serving = startServingDeals(provider.market!, { intervalMs: 100 });
    stops.unshift(() => serving.stop());
    buyer = createDealChannel({
      wallet: requesterWallet,
      settlement: requesterChain,
      marketUrl: market.url,
      relay: provider.url,
      deposit: DEPOSIT,
      settleWindow: 600,
    });
    // The market operator credits the requester with what it could deposit, so that accepting a
    // deal can reserve its cost.
    await market.service.execute({
      type: "SetBalance",
      address: lower(requesterWallet.address),
      balance: before.requester,
    });

    enter("placing the offer and the request");
    await provider.market!.place(
      proxyOffer(lower(providerWallet.address), PRICE_PER_SECOND, {
        region: "Berlin",
        asn: 3320,
        ipClass: "residential",
      }),
    );
    deal = await buyer.place(
      proxyRequest(lower(requesterWallet.address), 2n * PRICE_PER_SECOND, seconds, {
        ipClasses: ["residential"],
      }),
    );
    progress.dealId = deal.id;
    progress.dealStatus = deal.status;
    deal = await buyer.accept();
    progress.dealStatus = deal.status;

    enter("opening the channel (permit + open, one transaction)");
    const { channel } = await buyer.openChannel();
    // A new channel (the demo keeps no store to reuse one from): it has its open's transaction.
    transactions.push({
      step: "open channel with permit",
      hash: channel.tx?.hash ?? "",
      gasUsed: channel.tx?.gasUsed ?? 0n,
    });
    progress.channelId = channel.channelId;

    const track = (s: Session, label: string) => {
      progress.session = label;
      s.on("ack", (a) => {
        progress.proofsAcked = Math.max(progress.proofsAcked, Number(a.nonce));
        progress.paid = a.transferred;
      });
      s.on("usage", (u) => {
        progress.owed = u.owed;
      });
    };

    if (!signal.aborted) {
      enter("crawling, paying per second");
      const leg = world ? wireGuardLeg(world, gateway, "wc1") : undefined;
      if (leg) stops.unshift(() => leg.close());
      const perSecond = await buyer.openSession({
        mode: "second",
        unitPrice: PRICE_PER_SECOND,
        tunnel: leg?.tunnel ?? { kind: "proxy" },
      });
      track(perSecond, "per second");
      await leg?.attach(perSecond);
      const until = performance.now() + seconds * 1000;
      for (let n = 0; performance.now() < until && !signal.aborted; n++) {
        await crawl(leg, perSecond, site, `/page/${n}`, counters);
        sync(progress, counters, buyer);
      }
      const end = await buyer.endSession(perSecond);
      await leg?.close();
      sessions.push({ mode: "second", end: end?.code ?? "TIMEOUT", signed: perSecond.signed });
    }

    if (!signal.aborted) {
      enter("crawling, paying per byte");
      const startBytes = counters.bytes;
      const leg = world ? wireGuardLeg(world, gateway, "wc2") : undefined;
      if (leg) stops.unshift(() => leg.close());
      const perByte = await buyer.openSession({
        mode: "byte",
        unitPrice: PRICE_PER_BYTE,
        prepayUnits: 64n * 1024n,
        tunnel: leg?.tunnel ?? { kind: "proxy" },
        // Through WireGuard the meter is the requester's interface counters (what the provider
        // counts too), read every 50 ms: they trail the provider's by up to a poll of traffic.
        meter: leg?.meter ?? (() => counters.bytes - startBytes),
        ...(leg ? { tolerance: { ratio: 0.1, units: 65_536n } } : {}),
      });
      track(perByte, "per byte");
      await leg?.attach(perByte);
      for (let n = 0; n < pages && !signal.aborted; n++) {
        await crawl(leg, perByte, site, `/page/${1000 + n}`, counters);
        sync(progress, counters, buyer);
      }
      const end = await buyer.endSession(perByte);
      await leg?.close();
      sessions.push({ mode: "byte", end: end?.code ?? "TIMEOUT", signed: perByte.signed });
    }

    enter("settling the channel cooperatively");
    sync(progress, counters, buyer);
    const paidOffChain = buyer.sent()?.transferred ?? 0n;
    const closed = await buyer.finish();
    if (closed.status !== "closed") throw closeFailure(closed);
    transactions.push({ step: "cooperative close", hash: closed.tx, gasUsed: closed.gasUsed });
    const after = await balances();
    await market.service
      .execute({
        type: "ReportUsage",
        dealId: deal.id,
        paid: paidOffChain,
        bytes: counters.bytes,
      })
      .catch(() => []);
    deal = await buyer.market.deal(deal.id);
    progress.dealStatus = deal.status;
    enter("done");
    const elapsed = performance.now() - started;
    result = {
      proofsSent: progress.proofsSent,
      proofsAcked: progress.proofsAcked,
      proofsPerSec: Math.round((progress.proofsSent / elapsed) * 1000 * 10) / 10,
      bytesCrawled: counters.bytes,
      pagesCrawled: counters.pages,
      paidOffChain,
      paidOnChain: after.provider - before.provider,
      gas: Object.fromEntries(
        transactions.map((t) => [
          t.step === "cooperative close" ? "cooperativeClose" : "openWithPermit",
          t.gasUsed,
        ]),
      ),
      balances: {
        provider: {
          before: before.provider,
          after: after.provider,
          address: providerWallet.address as Address,
        },
        requester: {
          before: before.requester,
          after: after.requester,
          address: requesterWallet.address as Address,
        },
      },
      transactions,
      deal: { id: deal.id, status: deal.status },
      channelId: channel.channelId,
      sessions,
      interrupted: signal.aborted,
      durationMs: Math.round(elapsed),
      namespaces: world?.net.namespaces() ?? [],
    };
    return result;
  } finally {
    clearInterval(ticker);
    report();
    await buyer?.close().catch(() => undefined);
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

/** One page through the session's tunnel: the proxy on loopback, or WireGuard. */
async function crawl(
  leg: WireGuardLeg | undefined,
  session: Session,
  site: Site,
  path: string,
  counters: CrawlCounters,
): Promise<void> {
  if (leg) await leg.fetch(path, counters);
  else
    await fetchThroughProxy(session.tunnel, { host: "127.0.0.1", port: site.port }, path, counters);
}

function sync(p: DemoProgress, c: CrawlCounters, buyer: DealChannel) {
  p.bytesCrawled = c.bytes;
  p.pagesCrawled = c.pages;
  p.proofsSent = Number(buyer.sent()?.nonce ?? 0n);
}

/**
 * Why the channel did not close cooperatively. The demo's provider runs beside it, so a close it
 * does not countersign fails the run (the unilateral close has been started all the same).
 */
function closeFailure(end: Exclude<DealChannelEnd, { status: "closed" }>): unknown {
  const why = "cooperativeError" in end ? end.cooperativeError : undefined;
  return why ?? new DealChannelError("OUT_OF_ORDER", `the channel is ${end.status}, not closed`);
}

function lower(a: string): Address {
  return a.toLowerCase() as Address;
}
