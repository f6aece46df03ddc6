/**
 * `tollway demo` (npm start): the whole scenario on an embedded chain, with live progress;
 * `--tunnel wireguard` runs it through a real WireGuard tunnel between namespaces, and
 * `--scenario fastlane` runs a paid three-hop QoS fast lane instead.
 */
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
    .option("--tunnel <kind>", "proxy (metered proxy on loopback) or wireguard (root)", "proxy")
    .option(
      "--scenario <name>",
      "crawl (pay a provider) or fastlane (paid QoS path, root)",
      "crawl",
    )
    .action(async (opts: DemoFlags, cmd: Command) => {
      const json = cmd.optsWithGlobals().json === true;
      const seconds = intFlag("--seconds", opts.seconds, 1, 3600);
      const pages = intFlag("--pages", opts.pages, 0, 100_000);
      const tunnel = oneOf("--tunnel", opts.tunnel, ["proxy", "wireguard"] as const);
      const scenario = oneOf("--scenario", opts.scenario, ["crawl", "fastlane"] as const);
      if (scenario === "fastlane" && tunnel !== "proxy") {
        throw new CliError("BAD_FLAG", "--tunnel applies to the crawl scenario only", {
          details: { flag: "--tunnel" },
        });
      }
      // The demo pulls in the embedded chain; load it only for this command.
      const demo = await import("../../demo/index.ts");
      const { liveLine, runDemo, summaryJson, summaryTable } = demo;
      if (tunnel === "wireguard" || scenario === "fastlane") {
        const support = await demo.demoNetSupport(
          scenario === "fastlane" ? ["tc", "iperf3"] : ["wg", "wireguard-go", "curl"],
        );
        if (!support.ok) {
          throw new CliError(
            "NOT_FOUND",
            `the ${scenario === "fastlane" ? "fast-lane" : "WireGuard"} demo needs root, \`ip netns\` and its tools: ${support.reason}`,
            { details: support.details },
          );
        }
      }
      const abort = new AbortController();
      const stop = () => {
        if (!abort.signal.aborted)
          process.stderr.write(
            scenario === "fastlane"
              ? "\nstopping: removing the lanes and the namespaces…\n"
              : "\nstopping: closing the sessions and settling the channel…\n",
          );
        abort.abort();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const live =
        !json && !opts.quiet && process.stderr.isTTY ? liveLine(process.stderr) : undefined;
      try {
        if (scenario === "fastlane") {
          const fast = await demo.runFastlaneDemo({
            seconds,
            signal: abort.signal,
            ...(json || opts.quiet ? {} : { onPhase: (p: string) => io.err(`${p}\n`) }),
          });
          io.out(json ? `${demo.fastlaneJson(fast)}\n` : `${demo.fastlaneTable(fast)}\n`);
          if (fast.lanesLeft > 0) throw new CliError("CHAIN", "a hop kept its lane after the demo");
          return;
        }
        const summary = await runDemo({
          seconds,
          pages,
          tunnel,
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

interface DemoFlags {
  seconds: string;
  pages: string;
  quiet?: boolean;
  tunnel: string;
  scenario: string;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CliError("BAD_FLAG", `${flag} must be one of ${allowed.join(", ")} (got "${value}")`, {
    details: { flag },
  });
}
