/** `tollway demo` (npm start): the whole scenario on an embedded chain, with live progress. */
import type { Command } from "commander";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";
import { intFlag } from "./chain.ts";

export function demoCommand(program: Command, io: Io) {
  program
    .command("demo")
    .description(
      "run a market, a provider and a crawling requester end to end on an embedded chain",
    )
    .option("--seconds <n>", "how long the per-second session crawls", "6")
    .option("--pages <n>", "pages the per-byte session fetches", "24")
    .option("--quiet", "no live progress, only the summary")
    .action(async (opts: { seconds: string; pages: string; quiet?: boolean }, cmd: Command) => {
      const json = cmd.optsWithGlobals().json === true;
      const seconds = intFlag("--seconds", opts.seconds, 1, 3600);
      const pages = intFlag("--pages", opts.pages, 0, 100_000);
      // The demo pulls in the embedded chain; load it only for this command.
      const { liveLine, runDemo, summaryJson, summaryTable } = await import("../../demo/index.ts");
      const abort = new AbortController();
      const stop = () => {
        if (!abort.signal.aborted)
          process.stderr.write("\nstopping: closing the sessions and settling the channel…\n");
        abort.abort();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const live =
        !json && !opts.quiet && process.stderr.isTTY ? liveLine(process.stderr) : undefined;
      try {
        const summary = await runDemo({
          seconds,
          pages,
          signal: abort.signal,
          ...(live ? { onProgress: live } : {}),
        });
        if (live) process.stderr.write("\n");
        io.out(json ? `${summaryJson(summary)}\n` : `${summaryTable(summary)}\n`);
        if (summary.paidOffChain !== summary.paidOnChain) {
          throw new CliError("CHAIN", "the on-chain payout differs from the acknowledged payments");
        }
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
