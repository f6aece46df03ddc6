/** `tollway market`, `tollway provider`, `tollway requester`: each role on its own. */
import { join } from "node:path";
import type { Command } from "commander";
import { Contract, formatUnits, type HDNodeWallet, parseUnits, type Wallet } from "ethers";
import { loadArtifact } from "../../../channels/chain/artifacts.ts";
import { ChannelStore } from "../../../channels/store/channel-store.ts";
import type { Address } from "../../../channels/types.ts";
import { loadDeployment } from "../../chain/deploy.ts";
import { type CrawlCounters, fetchThroughProxy } from "../../demo/crawler.ts";
import {
  DEFAULT_MAX_RESTING_PER_OWNER,
  DEFAULT_PER_IP_LIMIT,
  DEFAULT_PER_KEY_LIMIT,
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  MarketError,
} from "../../market/index.ts";
import { createMarket, readChainId } from "../../node/market.ts";
import type { DealView } from "../../node/market-client.ts";
import { proxyOffer, proxyRequest } from "../../node/order-specs.ts";
import { createProvider } from "../../node/provider.ts";
import { createRequester } from "../../node/requester.ts";
import { type ChainContext, loadConfig, openChainContext } from "../context.ts";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";
import { intFlag } from "./chain.ts";

const untilSignal = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });

const print = (io: Io, json: boolean, value: Record<string, unknown>, human: string) =>
  io.out(
    json
      ? `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`
      : `${human}\n`,
  );

function tokens(flag: string, raw: string): bigint {
  if (!/^\d+(\.\d+)?$/.test(raw))
    throw new CliError(
      "BAD_FLAG",
      `${flag} must be a positive decimal number of tokens, got "${raw}"`,
    );
  return parseUnits(raw, 18);
}

function httpUrl(flag: string, raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError("BAD_FLAG", `${flag} must be a URL, got "${raw}"`);
  }
  if (!/^(https?|wss?):$/.test(u.protocol))
    throw new CliError("BAD_FLAG", `${flag} must be an http(s) or ws(s) URL, got "${raw}"`);
  return u;
}

async function waitFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new CliError("CHAIN", `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Registers the three role commands. */
export function roleCommands(program: Command, io: Io) {
  program
    .command("market")
    .description("serve the market (orders, deals, wallets, profiles) over HTTP and WebSocket")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8080")
    .option(
      "--max-orders-per-owner <n>",
      "orders one key may have resting in the book (0: no cap)",
      String(DEFAULT_MAX_RESTING_PER_OWNER),
    )
    .option(
      "--ip-rate <n>",
      "requests per minute from one IP address, over every route (0: no limit)",
      String(DEFAULT_PER_IP_LIMIT.max),
    )
    .option(
      "--key-rate <n>",
      "order writes (place, amend, cancel) per minute by one signing key (0: no limit)",
      String(DEFAULT_PER_KEY_LIMIT.max),
    )
    .option(
      "--snapshot-every <n>",
      "journal commands between snapshots (0: by time only)",
      String(DEFAULT_SNAPSHOT_EVERY),
    )
    .option(
      "--snapshot-seconds <s>",
      "longest wait from a change to a snapshot (0: by count only)",
      String(DEFAULT_SNAPSHOT_INTERVAL_MS / 1000),
    )
    .option("--chain-timeout <ms>", "how long to wait for the chain's eth_chainId", "3000")
    .action(async (opts: Record<string, string>, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const port = intFlag("--port", opts.port!, 0, 65_535);
      const cap = intFlag("--max-orders-per-owner", opts.maxOrdersPerOwner!, 0, 2 ** 31);
      const ipRate = intFlag("--ip-rate", opts.ipRate!, 0, 2 ** 31);
      const keyRate = intFlag("--key-rate", opts.keyRate!, 0, 2 ** 31);
      const snapshotEvery = intFlag("--snapshot-every", opts.snapshotEvery!, 0, 2 ** 31);
      const snapshotSeconds = intFlag("--snapshot-seconds", opts.snapshotSeconds!, 0, 86_400);
      const chainTimeout = intFlag("--chain-timeout", opts.chainTimeout!, 1, 600_000);
      const chainId = await marketChainId(config.rpc, config.chainId, chainTimeout);
      // Requesters' capacity comes from their token balance on chain, when the chain is there.
      const capacity = await chainCapacity(config.rpc, config.dataDir, config.channels).catch(
        () => undefined,
      );
      const perMinute = (max: number) => (max === 0 ? false : { max, windowMs: 60_000 });
      const market = await createMarket({
        dir: join(config.dataDir, "market"),
        host: opts.host!,
        port,
        chainId,
        maxRestingPerOwner: cap === 0 ? Number.POSITIVE_INFINITY : cap,
        perIpLimit: perMinute(ipRate),
        perKeyLimit: perMinute(keyRate),
        snapshotEvery,
        snapshotIntervalMs: snapshotSeconds * 1000,
        ...(capacity ? { capacityOf: capacity.of } : {}),
      }).catch((err: unknown) => {
        capacity?.close();
        throw err;
      });
      print(
        io,
        config.json,
        { url: market.url, chainId, credit: capacity ? "chain" : "operator" },
        `market on ${market.url} for chain ${chainId}${capacity ? "" : " (no chain reachable: requesters' capacity must be set by the operator)"}\nCtrl-C stops it.`,
      );
      await untilSignal();
      await market.close();
      capacity?.close();
    });

  program
    .command("provider")
    .description(
      "sell a metered proxy: serve the relay, post an offer to the market, accept its deals",
    )
    .requiredOption("--market <url>", "the market's URL")
    .option("--host <host>", "relay address", "127.0.0.1")
    .option("--port <port>", "relay port", "7400")
    .option("--price <tokens>", "price per second, in tokens", "0.001")
    .option("--credit-seconds <n>", "how many unpaid seconds a session may run up", "2")
    .option("--country <cc>", "the exit's country", "DE")
    .action(async (opts: Record<string, string>, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const market = httpUrl("--market", opts.market!).origin;
      const price = tokens("--price", opts.price!);
      const credit = BigInt(intFlag("--credit-seconds", opts.creditSeconds!, 1, 3600));
      const ctx = await openChainContext(config);
      const provider = await createProvider({
        wallet: ctx.chain.signer as Wallet,
        chain: ctx.chain,
        dataDir: join(config.dataDir, "provider", ctx.me.toLowerCase()),
        marketUrl: market,
        host: opts.host!,
        port: intFlag("--port", opts.port!, 0, 65_535),
        pricing: { second: { unitPrice: price, creditLimit: credit * price, graceMs: 1_000 } },
      });
      try {
        const offer = await provider.market!.place(
          proxyOffer(ctx.me, price, { country: opts.country!, quantity: 100 }),
        );
        print(
          io,
          config.json,
          { relay: provider.url, address: ctx.me, offerId: offer.orderId },
          `provider ${ctx.me}\n  relay  ${provider.url}\n  offer  ${offer.orderId}\nAccepting deals; Ctrl-C stops.`,
        );
        const timer = setInterval(() => {
          serveDeals(provider.market!, ctx.me).catch((err: Error) =>
            io.err(`tollway: ${err.message}\n`),
          );
        }, 500);
        await untilSignal();
        clearInterval(timer);
      } finally {
        await provider.close();
        ctx.close();
      }
    });

  program
    .command("requester")
    .description(
      "buy a metered proxy: request it, accept the deal, open a channel, fetch through it paying per second, settle",
    )
    .requiredOption("--market <url>", "the market's URL")
    .requiredOption("--provider <url>", "the provider's relay (ws://host:port)")
    .requiredOption("--target <url>", "an http:// URL to fetch through the proxy")
    .option("--seconds <n>", "how long to fetch", "10")
    .option("--deposit <tokens>", "channel deposit", "5")
    .option("--max-price <tokens>", "highest price per second accepted", "0.002")
    .option("--country <cc>", "wanted exit country", "DE")
    .action(async (opts: Record<string, string>, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const market = httpUrl("--market", opts.market!).origin;
      const relay = httpUrl("--provider", opts.provider!);
      const target = httpUrl("--target", opts.target!);
      if (target.protocol !== "http:")
        throw new CliError("BAD_FLAG", "--target must be an http:// URL");
      const seconds = intFlag("--seconds", opts.seconds!, 1, 86_400);
      const deposit = tokens("--deposit", opts.deposit!);
      const maxPrice = tokens("--max-price", opts.maxPrice!);
      const ctx = await openChainContext(config);
      try {
        io.out(json(config) ? "" : `requester ${ctx.me}: placing the request…\n`);
        const summary = await buy(
          ctx,
          { market, relay: relay.href, target, seconds, deposit, maxPrice, country: opts.country! },
          (line) => {
            if (!config.json) io.out(`${line}\n`);
          },
        );
        print(
          io,
          config.json,
          summary,
          `paid ${formatUnits(summary.paidOffChain, 18)} TOLL off chain, ${formatUnits(summary.paidOnChain, 18)} settled on chain; ${summary.bytes} bytes in ${summary.pages} fetches`,
        );
      } finally {
        ctx.close();
      }
    });
}

const json = (c: { json: boolean }) => c.json;

/** The provider's side of its deals: accept what is proposed, report the tunnel once the channel is. */
async function serveDeals(
  market: NonNullable<Awaited<ReturnType<typeof createProvider>>["market"]>,
  me: Address,
) {
  for (const d of await market.deals(me)) {
    if (d.status === "proposed" && !d.providerAccepted) await market.accept(d);
    else if (d.status === "accepted" && d.channelReady && !d.tunnelUp) await market.tunnelUp(d.id);
  }
}

async function buy(
  ctx: ChainContext,
  o: {
    market: string;
    relay: string;
    target: URL;
    seconds: number;
    deposit: bigint;
    maxPrice: bigint;
    country: string;
  },
  say: (line: string) => void,
) {
  // Every proof is durable here before it is sent: a buy cut short continues its channel.
  const store = await ChannelStore.open(
    join(ctx.config.dataDir, "requester", ctx.me.toLowerCase()),
  );
  try {
    return await buyWith(ctx, o, say, store);
  } finally {
    await store.close();
  }
}

async function buyWith(
  ctx: ChainContext,
  o: Parameters<typeof buy>[1],
  say: (line: string) => void,
  store: ChannelStore,
) {
  const requester = createRequester({
    wallet: ctx.chain.signer as Wallet | HDNodeWallet,
    chain: ctx.chain,
    marketUrl: o.market,
    store,
  });
  const market = requester.market!;
  const placed = await market.place(
    proxyRequest(ctx.me, o.maxPrice, o.seconds, { country: o.country }),
  );
  let deal: DealView | undefined = placed.deals[0];
  if (!deal)
    throw new CliError(
      "NOT_FOUND",
      `no offer in the market matches (request ${placed.orderId} rests in the book)`,
    );
  say(`deal ${deal.id} at ${formatUnits(BigInt(deal.price), 18)} TOLL/s; waiting for capacity…`);
  const maxCost = BigInt(deal.maxCost);
  await waitFor("the market to credit your capacity", 10_000, async () => {
    const w = await market.walletOf();
    return BigInt(w.balance) - BigInt(w.reserved) >= maxCost ? true : undefined;
  });
  await market.accept(deal);
  deal = await waitFor("the provider to accept", 15_000, async () => {
    const d = await market.deal(deal!.id);
    return d.status === "accepted" || d.status === "active" ? d : undefined;
  });
  const channel = await requester.openChannel(deal.provider as Address, o.deposit, 600);
  say(`channel ${channel.channelId} opened (gas ${channel.gasUsed})`);
  await market.channelReady(deal.id, channel.channelId);
  const client = await requester.connect(o.relay);
  const counters: CrawlCounters = { bytes: 0, pages: 0 };
  try {
    const session = await client.openSession({
      channel: channel.ref,
      dealId: deal.id,
      mode: "second",
      unitPrice: BigInt(deal.price),
      tunnel: { kind: "proxy" },
    });
    const port = Number(o.target.port || 80);
    const until = Date.now() + o.seconds * 1000;
    while (Date.now() < until) {
      const r = await fetchThroughProxy(
        session.tunnel,
        { host: o.target.hostname, port },
        `${o.target.pathname}${o.target.search}`,
        counters,
      );
      if (typeof r === "number")
        throw new CliError("CHAIN", `the proxy refused the fetch with ${r}`);
    }
    await session.close();
    const deadline = Date.now() + 3_000;
    const sent = client.channel(channel.channelId)?.sent?.proof.nonce ?? 0n;
    while (session.ackedNonce < sent && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const paidOffChain = client.channel(channel.channelId)?.sent?.proof.transferred ?? 0n;
    const before = await ctx.chain.tokenBalance(deal.provider as Address);
    const settled = await requester.settle(client, channel);
    const paidOnChain = (await ctx.chain.tokenBalance(deal.provider as Address)) - before;
    return {
      dealId: deal.id,
      channelId: channel.channelId,
      proofsSent: Number(sent),
      proofsAcked: Number(session.ackedNonce),
      bytes: counters.bytes,
      pages: counters.pages,
      paidOffChain,
      paidOnChain,
      gas: { openWithPermit: channel.gasUsed, cooperativeClose: settled.gasUsed },
    };
  } finally {
    await client.close();
  }
}

/**
 * The chain id the market signs for: what the chain at `rpc` says, checked against
 * `--chain-id` when both are there; `--chain-id` alone when the chain cannot be reached.
 * @throws CliError CHAIN when neither gives one, or they disagree.
 */
async function marketChainId(
  rpc: string,
  given: bigint | undefined,
  timeoutMs: number,
): Promise<number> {
  let read: number | undefined;
  let why = "";
  try {
    read = await readChainId(rpc, timeoutMs);
  } catch (err) {
    if (!(err instanceof MarketError)) throw err;
    why = err.message;
  }
  if (read !== undefined && given !== undefined && BigInt(read) !== given)
    throw new CliError(
      "CHAIN",
      `the chain at ${rpc} has chain id ${read}, not ${given}; check --rpc and --chain-id`,
    );
  if (read !== undefined) return read;
  if (given !== undefined) {
    if (given > BigInt(Number.MAX_SAFE_INTEGER))
      throw new CliError("BAD_FLAG", `--chain-id ${given} is too large`);
    return Number(given);
  }
  throw new CliError(
    "CHAIN",
    `the market needs the chain id orders are signed for: ${why}; start the chain, fix --rpc, or give --chain-id`,
  );
}

/** Reads requesters' token balances from the configured chain, for the market's capacity. */
async function chainCapacity(rpc: string, dataDir: string, channels?: Address) {
  const { providerFor } = await import("../../../channels/chain/client.ts");
  const provider = providerFor(rpc);
  try {
    const address = channels ?? (await loadDeployment(dataDir, provider))?.channels;
    if (!address) throw new Error("no deployment");
    const pc = new Contract(address, loadArtifact("PaymentChannels").abi, provider);
    const token = new Contract(
      await pc.getFunction("token")(),
      loadArtifact("Token").abi,
      provider,
    );
    return {
      of: async (a: Address) => (await token.getFunction("balanceOf")(a)) as bigint,
      close: () => provider.destroy(),
    };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}
