/** `tollway market`, `tollway provider`, `tollway requester`: each role on its own. */
import { join } from "node:path";
import type { Command } from "commander";
import { Contract, type Wallet } from "ethers";
import { loadArtifact } from "../../../channels/chain/artifacts.ts";
import { isChannelError } from "../../../channels/errors.ts";
import { ChannelStore } from "../../../channels/store/channel-store.ts";
import type { Address } from "../../../channels/types.ts";
import { loadDeployment } from "../../chain/deploy.ts";
import { accountLayout, migrateLegacyStores } from "../../node/layout.ts";
import { createMarket } from "../../node/market.ts";
import { startNodeServices } from "../../node/node-services.ts";
import { proxyOffer } from "../../node/order-specs.ts";
import { createProvider } from "../../node/provider.ts";
import { loadConfig, openChainContext } from "../context.ts";
import { CliError, errorCode } from "../errors.ts";
import { flag, formatTokens, parseInteger, parseTokens, parseWindow } from "../flags.ts";
import type { Io } from "../io.ts";
import { tokenUnit } from "../token.ts";
import { intFlag } from "./chain.ts";
import { type BuyOptions, type ChannelOutcome, runRequester } from "./requester-run.ts";

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

function httpUrl(flag: string, raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(
      "BAD_FLAG",
      `${flag} must be a URL, got ${JSON.stringify(raw.slice(0, 80))}`,
    );
  }
  if (!/^(https?|wss?):$/.test(u.protocol))
    throw new CliError(
      "BAD_FLAG",
      `${flag} must be an http(s) or ws(s) URL, got ${JSON.stringify(raw.slice(0, 80))}`,
    );
  return u;
}

/** Registers the three role commands. */
export function roleCommands(program: Command, io: Io) {
  program
    .command("market")
    .description("serve the market (orders, deals, wallets, profiles) over HTTP and WebSocket")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8080")
    .action(async (opts: { host: string; port: string }, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const port = intFlag("--port", opts.port, 0, 65_535);
      // Requesters' capacity comes from their token balance on chain, when the chain is there.
      const capacity = await chainCapacity(config.rpc, config.dataDir, config.channels).catch(
        () => undefined,
      );
      const market = await createMarket({
        dir: join(config.dataDir, "market"),
        host: opts.host,
        port,
        chainId: Number(config.chainId ?? 31337n),
        ...(capacity ? { capacityOf: capacity.of } : {}),
      });
      print(
        io,
        config.json,
        { url: market.url, credit: capacity ? "chain" : "operator" },
        `market on ${market.url}${capacity ? "" : " (no chain reachable: requesters' capacity must be set by the operator)"}\nCtrl-C stops it.`,
      );
      await untilSignal();
      await market.close();
      capacity?.close();
    });

  program
    .command("provider")
    .description(
      "sell a metered proxy: serve the relay, post an offer to the market, accept its deals, watch its channels on chain",
    )
    .requiredOption("--market <url>", "the market's URL")
    .option("--host <host>", "relay address", "127.0.0.1")
    .option("--port <port>", "relay port (0: any free port)", "7400")
    .option("--price <tokens>", "price per second, in tokens", "0.001")
    .option("--credit-seconds <n>", "how many unpaid seconds a session may run up (1 to 3600)", "2")
    .option("--country <cc>", "the exit's country (two letters)", "DE")
    .option("--no-watch", "leave disputes and settling to a separate `tollway channel dispute`")
    .option(
      "--watch-interval <ms>",
      "how often the watcher reads the chain, ms (100 to 3600000)",
      "2000",
    )
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const market = httpUrl("--market", String(opts.market)).origin;
      const price = flag(parseTokens("--price", opts.price));
      const credit = BigInt(flag(parseInteger("--credit-seconds", opts.creditSeconds, 1, 3600)));
      const port = flag(parseInteger("--port", opts.port, 0, 65_535));
      const pollIntervalMs = flag(
        parseInteger("--watch-interval", opts.watchInterval, 100, 3_600_000),
      );
      const country = countryFlag(opts.country);
      const ctx = await openChainContext(config);
      const log = (line: string) =>
        io.out(config.json ? `${JSON.stringify({ log: line })}\n` : `  ${line}\n`);
      const provider = await createProvider({
        wallet: ctx.chain.signer as Wallet,
        chain: ctx.chain,
        dataDir: config.dataDir,
        marketUrl: market,
        host: String(opts.host),
        port,
        pricing: { second: { unitPrice: price, creditLimit: credit * price, graceMs: 1_000 } },
        watch: opts.watch !== false,
        watchFromBlock: ctx.fromBlock,
        pollIntervalMs,
        log,
      }).catch((err: unknown) => {
        ctx.close();
        throw lockedStore(err, config.dataDir, ctx.me);
      });
      try {
        const offer = await provider.market!.place(
          proxyOffer(ctx.me, price, { country, quantity: 100 }),
        );
        print(
          io,
          config.json,
          {
            relay: provider.url,
            address: ctx.me,
            offerId: offer.orderId,
            watching: provider.services?.watcher !== undefined,
            control: provider.services?.control?.path ?? null,
          },
          `provider ${ctx.me}\n  relay  ${provider.url}\n  offer  ${offer.orderId}\n  watch  ${provider.services?.watcher ? "on: disputes stale closes and settles this account's channels" : "off (--no-watch)"}\nAccepting deals; Ctrl-C stops.`,
        );
        const timer = setInterval(() => {
          serveDeals(provider.market!, ctx.me).catch((err: unknown) =>
            io.err(
              `tollway: ${errorCode(err)}: ${err instanceof Error ? err.message : String(err)}\n`,
            ),
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
      "buy a metered proxy: request it, accept the deal, pay per second over a channel (reusing an open one with the provider), fetch through it, settle",
    )
    .requiredOption("--market <url>", "the market's URL")
    .requiredOption("--provider <url>", "the provider's relay (ws://host:port)")
    .requiredOption("--target <url>", "an http:// URL to fetch through the proxy")
    .option("--seconds <n>", "how long to fetch (1 to 86400)", "10")
    .option(
      "--deposit <tokens>",
      "deposit of a new channel, or top-up of a reused one that runs short",
      "5",
    )
    .option("--max-price <tokens>", "highest price per second accepted", "0.002")
    .option("--country <cc>", "wanted exit country (two letters)", "DE")
    .option(
      "--window <seconds>",
      "settle window of a new channel (10 to 2592000, the contract's bounds)",
      "600",
    )
    .option(
      "--keep-open",
      "leave the channel open at the end for the next run instead of settling it",
    )
    .option("--no-watch", "do not run the dispute watcher while the requester runs")
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const market = httpUrl("--market", String(opts.market)).origin;
      const relay = httpUrl("--provider", String(opts.provider));
      const target = httpUrl("--target", String(opts.target));
      if (target.protocol !== "http:")
        throw new CliError("BAD_FLAG", "--target must be an http:// URL");
      const buy: BuyOptions = {
        market,
        relay: relay.href,
        target,
        seconds: flag(parseInteger("--seconds", opts.seconds, 1, 86_400)),
        deposit: flag(parseTokens("--deposit", opts.deposit)),
        maxPrice: flag(parseTokens("--max-price", opts.maxPrice)),
        country: countryFlag(opts.country),
        window: flag(parseWindow("--window", opts.window)),
        keepOpen: opts.keepOpen === true,
      };
      const stop = interruptOnSignal(io);
      const ctx = await openChainContext(config);
      try {
        const unit = await tokenUnit(ctx.chain);
        // The token may have fewer decimals than the 18 the flags were first checked with.
        flag(parseTokens("--deposit", opts.deposit, unit));
        flag(parseTokens("--max-price", opts.maxPrice, unit));
        const layout = accountLayout(config.dataDir, ctx.me);
        await migrateLegacyStores(config.dataDir, ctx.me).catch((err: unknown) => {
          throw lockedStore(err, config.dataDir, ctx.me);
        });
        const store = await ChannelStore.open(layout.channels).catch((err: unknown) => {
          throw lockedStore(err, config.dataDir, ctx.me);
        });
        const say = (line: string) => {
          if (!config.json) io.out(`${line}\n`);
        };
        const services = await startNodeServices({
          chain: ctx.chain,
          address: ctx.me,
          role: "requester",
          layout,
          loadChannel: (id) => store.loadChannel(id),
          fromBlock: ctx.fromBlock,
          watch: opts.watch !== false,
          log: say,
        }).catch(async (err: unknown) => {
          await store.close();
          throw err;
        });
        try {
          say(`requester ${ctx.me}: placing the request…`);
          await runRequester(ctx, unit, store, buy, stop.signal, say, (summary) => {
            const outcome = summary.channel as ChannelOutcome;
            print(
              io,
              config.json,
              summary,
              `paid ${formatTokens(summary.paidOffChain as bigint, unit)} off chain, ${formatTokens(summary.paidOnChain as bigint, unit)} settled on chain; ${summary.bytes} bytes in ${summary.pages} fetches\n${outcome.note}`,
            );
          });
        } finally {
          await services.close();
          await store.close();
        }
      } finally {
        stop.dispose();
        ctx.close();
      }
    });
}

/** A two-letter country code. */
function countryFlag(raw: unknown): string {
  if (typeof raw !== "string" || !/^[A-Za-z]{2}$/.test(raw))
    throw new CliError(
      "BAD_FLAG",
      `--country must be a two-letter country code, got ${JSON.stringify(String(raw).slice(0, 20))}`,
    );
  return raw.toUpperCase();
}

/** A store another process holds, said in words: which account, and what to do. */
function lockedStore(err: unknown, dataDir: string, me: Address): unknown {
  const locked =
    isChannelError(err, "STORE_LOCKED") ||
    (err as { cause?: { code?: string } }).cause?.code === "LEVEL_LOCKED";
  if (!locked) return err;
  return new CliError(
    "NODE_RUNNING",
    `another node already runs for ${me} on ${accountLayout(dataDir, me).dir}; stop it, or use another account or --data-dir`,
    { cause: err },
  );
}

/**
 * The first SIGINT or SIGTERM aborts the signal (the run then closes its channel); a second one
 * exits at once.
 */
function interruptOnSignal(io: Io): { signal: AbortSignal; dispose(): void } {
  const ctl = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (!ctl.signal.aborted) {
      io.err(`tollway: ${name}: closing the channel before exiting (again to exit at once)\n`);
      ctl.abort();
      return;
    }
    io.err(
      "tollway: interrupted again: exiting; the channel may still be open (see `tollway channel list`)\n",
    );
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: ctl.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

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
