/**
 * The deal's channel, run the two ways tollway runs it, on the embedded chain with a real market
 * (capacity read from the chain), real provider nodes selling the metered proxy, and a website:
 * as the demo does (no store, two sessions on one channel, a cooperative close), and as the
 * `requester` command does (a store, keep the channel open, reuse and top it up next time, close
 * unilaterally when the provider is gone, stop on its signal).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HDNodeWallet, JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Address,
  ChannelStore,
  providerFor,
  type SettlementBackend,
} from "../../../channels/index.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { type CrawlCounters, fetchThroughProxy } from "../../../engine/demo/crawler.ts";
import {
  type ChainCapacity,
  chainCapacity,
  connectPaymentChannels,
  createDealChannel,
  createMarket,
  createProvider,
  type DealChannelOptions,
  type DealServer,
  type Provider,
  proxyOffer,
  proxyRequest,
  type RunningMarket,
  startServingDeals,
} from "../../../engine/node/index.ts";
import type { Session } from "../../../relay/index.ts";

const PRICE = 10n ** 15n; // a second
const PRICE_PER_BYTE = 10n ** 9n;

let chain: EmbeddedChain;
let rpc: JsonRpcProvider;
let dir: string;
let site: Server;
let sitePort: number;
let capacity: ChainCapacity;
let market: RunningMarket;
let requesterChain: SettlementBackend;
let deployment: Awaited<ReturnType<typeof deployContracts>>;
let provider: Provider;
const requesterWallet = devWallet(2);
const stops: (() => Promise<unknown>)[] = [];

/** A provider node with an offer in `country`, answering its deals as `tollway provider` does. */
async function startProvider(index: number, country: string): Promise<Provider> {
  const wallet = devWallet(index).connect(rpc) as HDNodeWallet;
  const provider = await createProvider({
    wallet,
    settlement: (await connectPaymentChannels({ signer: wallet, deployment })).settlement,
    dataDir: join(dir, `provider-${index}`),
    marketUrl: market.url,
    watch: false,
    control: false,
    proxy: { allow: [`127.0.0.1/32:${sitePort}`] },
    pricing: {
      second: { unitPrice: PRICE, creditLimit: 2n * PRICE, graceMs: 1_000 },
      byte: {
        unitPrice: PRICE_PER_BYTE,
        creditLimit: 256n * 1024n * PRICE_PER_BYTE,
        graceMs: 1_000,
      },
    },
  });
  await provider.market!.place(
    proxyOffer(wallet.address as Address, PRICE, { country, quantity: 100 }),
  );
  const deals: DealServer = startServingDeals(provider.market!, { intervalMs: 100 });
  stops.unshift(async () => {
    await deals.stop();
    await provider.close();
  });
  return provider;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-deal-"));
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  rpc = providerFor(chain.url!) as JsonRpcProvider;
  deployment = await deployContracts(devWallet(0).connect(rpc), {
    holders: [1, 2, 3].map((i) => ({
      address: devWallet(i).address as Address,
      amount: 10n ** 21n,
    })),
    minSettleWindow: 10,
  });
  requesterChain = (
    await connectPaymentChannels({ signer: requesterWallet.connect(rpc), deployment })
  ).settlement;
  site = createServer((_req, res) => res.end("x".repeat(16 * 1024)));
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  sitePort = (site.address() as AddressInfo).port;
  // As `tollway market` does: requesters' capacity is their token balance on chain.
  const cap = await chainCapacity(chain.url!, dir, deployment.channels);
  if (!cap) throw new Error("no deployment");
  capacity = cap;
  market = await createMarket({
    dir: join(dir, "market"),
    chainId: Number(requesterChain.domain.chainId),
    tickMs: 200,
    verifiers: 1,
    capacityOf: capacity.of,
  });
  provider = await startProvider(1, "DE");
}, 60_000);

afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  await market?.close();
  capacity?.close();
  await new Promise((r) => site?.close(r));
  rpc?.destroy();
  await chain?.stop();
  await rm(dir, { recursive: true, force: true });
});

const dealOptions = (
  relay: string,
  extra: Partial<DealChannelOptions> = {},
): DealChannelOptions => ({
  wallet: requesterWallet,
  settlement: requesterChain,
  marketUrl: market.url,
  relay,
  fromBlock: 0,
  deposit: 5n * 10n ** 18n,
  settleWindow: 30,
  ...extra,
});

const request = (country = "DE", maxPrice = 2n * PRICE) =>
  proxyRequest(requesterWallet.address as Address, maxPrice, 5, { country });

/** Fetches pages through the session's proxy for `ms`, or `pages` pages. */
async function crawl(
  session: Session,
  counters: CrawlCounters,
  o: { ms?: number; pages?: number },
) {
  const until = performance.now() + (o.ms ?? 0);
  for (let n = 0; o.pages !== undefined ? n < o.pages : performance.now() < until; n++) {
    const r = await fetchThroughProxy(
      session.tunnel,
      { host: "127.0.0.1", port: sitePort },
      `/${n}`,
      counters,
    );
    expect(typeof r).not.toBe("number");
  }
}

describe("a deal's channel", () => {
  it("as the demo runs it: a new channel, a per-second and a per-byte session, a cooperative close paying what was acknowledged", async () => {
    const deal = createDealChannel(dealOptions(provider.url));
    try {
      const proposed = await deal.place(request());
      expect(proposed.status).toBe("proposed");
      expect((await deal.accept()).status).toBe("accepted");
      const opened = await deal.openChannel();
      expect(opened).toMatchObject({ reused: false, toppedUp: 0n, left: 5n * 10n ** 18n });
      expect(opened.channel.tx?.gasUsed).toBeGreaterThan(0n);

      const counters: CrawlCounters = { bytes: 0, pages: 0 };
      const perSecond = await deal.openSession({ mode: "second", tunnel: { kind: "proxy" } });
      await crawl(perSecond, counters, { ms: 1_500 });
      expect((await deal.endSession(perSecond))?.code).toBeDefined();
      expect(perSecond.ackedNonce).toBe(deal.sent()!.nonce);

      const start = counters.bytes;
      const perByte = await deal.openSession({
        mode: "byte",
        unitPrice: PRICE_PER_BYTE,
        prepayUnits: 64n * 1024n,
        tunnel: { kind: "proxy" },
        meter: () => counters.bytes - start,
      });
      await crawl(perByte, counters, { pages: 4 });
      // Left open on purpose: finish ends it with its last payment before closing.
      const end = await deal.finish();
      expect(perByte.ackedNonce).toBe(deal.sent()!.nonce);
      if (end.status !== "closed") throw new Error(`not closed: ${end.status}`);
      const paid = deal.sent()!.transferred;
      expect(paid).toBeGreaterThan(2n * PRICE);
      expect(end.payoutB).toBe(paid);
      expect(end.paidOnChain).toBe(paid);
      expect((await requesterChain.channel(end.channelId)).status).toBe("none");
      // The provider's loop reported the tunnel once the channel was: the deal ran.
      const ran = await deal.market.deal(proposed.id);
      expect(ran.tunnelUp).toBe(true);
      expect(["active", "completed"]).toContain(ran.status);
      expect(await deal.finish()).toBe(end);
    } finally {
      await deal.close();
    }
  }, 60_000);

  it("as `tollway requester` runs it: keeps the channel open, reuses and tops it up next run, then closes it cooperatively", async () => {
    const storeDir = join(dir, "requester-store");
    const deposit = 6n * PRICE;
    let store = await ChannelStore.open(storeDir);
    const first = createDealChannel(dealOptions(provider.url, { store, deposit }));
    let maxCost: bigint;
    let channelId: string;
    let paidFirst: bigint;
    try {
      maxCost = BigInt((await first.place(request())).maxCost);
      await first.accept();
      const opened = await first.openChannel();
      expect(opened.reused).toBe(false);
      channelId = opened.channel.channelId;
      const session = await first.openSession({ mode: "second", tunnel: { kind: "proxy" } });
      await crawl(session, { bytes: 0, pages: 0 }, { ms: 1_500 });
      const end = await first.finish({ keepOpen: true });
      paidFirst = first.sent()!.transferred;
      expect(end).toEqual({ status: "open", channelId, left: deposit - paidFirst });
      expect(session.ackedNonce).toBe(first.sent()!.nonce);
    } finally {
      await first.close();
      await store.close();
    }
    expect((await requesterChain.channel(first.channel!.channelId)).status).toBe("open");
    // The first run paid more than a second of the deposit: what is left cannot cover a deal.
    expect(deposit - paidFirst).toBeLessThan(maxCost);

    // A later run with the same store (as a new process would open it) pays on the same channel.
    store = await ChannelStore.open(storeDir);
    const second = createDealChannel(dealOptions(provider.url, { store, deposit }));
    try {
      await second.place(request());
      await second.accept();
      const opened = await second.openChannel();
      expect(opened).toMatchObject({ reused: true, left: deposit - paidFirst, toppedUp: deposit });
      expect(opened.channel.channelId).toBe(channelId);
      expect(opened.channel.depositA).toBe(2n * deposit);
      const onChain = await requesterChain.channel(opened.channel.channelId);
      expect(onChain.status === "open" && onChain.depositA).toBe(2n * deposit);
      const session = await second.openSession({ mode: "second", tunnel: { kind: "proxy" } });
      await crawl(session, { bytes: 0, pages: 0 }, { pages: 2 });
      const end = await second.finish();
      if (end.status !== "closed") throw new Error(`not closed: ${end.status}`);
      // The nonces and amounts went on from the first run's, and the close pays all of it.
      const paid = second.sent()!.transferred;
      expect(paid).toBeGreaterThan(paidFirst);
      expect(end.paidOnChain).toBe(paid);
      expect(end.payoutA).toBe(2n * deposit - paid);
    } finally {
      await second.close();
      await store.close();
    }
  }, 60_000);

  it("closes unilaterally, and says why, when the provider is gone before the close", async () => {
    const gone = await startProvider(3, "FR");
    const store = await ChannelStore.open(join(dir, "requester-store-fr"));
    const deal = createDealChannel(
      dealOptions(gone.url, {
        store,
        timeouts: { cooperativeCloseMs: 2_000, sessionCloseMs: 1_000 },
      }),
    );
    try {
      await deal.place(request("FR"));
      await deal.accept();
      await deal.openChannel();
      const session = await deal.openSession({ mode: "second", tunnel: { kind: "proxy" } });
      await crawl(session, { bytes: 0, pages: 0 }, { pages: 2 });
      await gone.close();
      const end = await deal.finish();
      if (end.status !== "closing") throw new Error(`not closing: ${end.status}`);
      expect(end.cooperativeError).toBeDefined();
      expect(Date.parse(end.finalizesAt)).toBeGreaterThan(Date.now());
      expect((await requesterChain.channel(end.channelId)).status).toBe("closing");
    } finally {
      await deal.close();
      await store.close();
    }
  }, 60_000);

  it("stops at the signal with its reason, and a deal that never got a channel locks nothing", async () => {
    const stop = new AbortController();
    const reason = new Error("stop");
    const deal = createDealChannel(dealOptions(provider.url, { signal: stop.signal }));
    await deal.place(request());
    stop.abort(reason);
    await expect(deal.accept()).rejects.toBe(reason);
    expect(await deal.finish()).toEqual({ status: "none" });

    const none = createDealChannel(dealOptions(provider.url));
    await expect(none.place(request("DE", 1n))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(none.accept()).rejects.toMatchObject({ code: "OUT_OF_ORDER" });
  });
});
