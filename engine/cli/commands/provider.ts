/** `tollway provider`: sell a metered proxy, with the dispute watcher and control socket on. */

import type { Command } from "commander";
import type { Wallet } from "ethers";
import { shortMessageOf } from "../../../channels/index.ts";
import { startServingDeals } from "../../node/deal-channel.ts";
import { proxyOffer } from "../../node/order-specs.ts";
import { createProvider } from "../../node/provider.ts";
import { loadConfig, openChainContext } from "../context.ts";
import { errorCode } from "../errors.ts";
import { flag, parseInteger, parseTokens } from "../flags.ts";
import type { Io } from "../io.ts";
import { countryFlag, httpUrl, lockedStore, print, untilSignal } from "./role-io.ts";

/** Registers `tollway provider`. */
export function providerCommand(program: Command, io: Io) {
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
    .option(
      "--proxy-allow <entries>",
      "destinations the metered proxy serves despite its defaults, comma-separated (127.0.0.1/32:8080,[::1]:8080)",
      "",
    )
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
        wallet: ctx.account.signer as Wallet,
        settlement: ctx.account.settlement,
        dataDir: config.dataDir,
        marketUrl: market,
        host: String(opts.host),
        port,
        pricing: { second: { unitPrice: price, creditLimit: credit * price, graceMs: 1_000 } },
        proxy: { allow: listFlag(opts.proxyAllow) },
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
        const deals = startServingDeals(provider.market!, {
          onError: (err) => io.err(`tollway: ${errorCode(err)}: ${shortMessageOf(err)}\n`),
        });
        await untilSignal();
        await deals.stop();
      } finally {
        await provider.close();
        ctx.close();
      }
    });
}

/** A comma-separated flag as its entries (the driver checks each and names a bad one). */
function listFlag(raw: unknown): string[] {
  if (typeof raw !== "string") return [];
  return raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}
