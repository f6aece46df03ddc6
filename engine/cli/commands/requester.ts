/** `tollway requester`: buy a metered proxy and pay for it over a channel; see requester-run.ts. */
import type { Command } from "commander";
import { ChannelStore } from "../../../channels/index.ts";
import { accountLayout, migrateLegacyStores } from "../../node/layout.ts";
import { startNodeServices } from "../../node/node-services.ts";
import { loadConfig, openChainContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { flag, formatTokens, parseInteger, parseTokens, parseWindow } from "../flags.ts";
import type { Io } from "../io.ts";
import { tokenUnit } from "../token.ts";
import { type BuyOptions, type ChannelOutcome, runRequester } from "./requester-run.ts";
import { countryFlag, httpUrl, lockedStore, print } from "./role-io.ts";

/** Registers `tollway requester`. */
export function requesterCommand(program: Command, io: Io) {
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
        throw new CliError("BAD_FLAG", "--target must be an http:// URL", {
          details: { flag: "--target" },
        });
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
        const unit = await tokenUnit(ctx.account);
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
          settlement: ctx.account.settlement,
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
