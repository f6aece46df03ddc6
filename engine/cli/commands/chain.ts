/**
 * `tollway chain`: serve the embedded chain on loopback (mining on each transaction, or every
 * `--block-time` seconds like a public chain), deploy (Token, PaymentChannels, and nitro-protocol's
 * NitroAdjudicator, ConsensusApp and VirtualPaymentApp), fund the dev accounts, save the addresses.
 */
import type { Command } from "commander";
import { parseUnits } from "ethers";
import { type Address, providerFor } from "../../../channels/index.ts";
import { deployContracts, saveDeployment } from "../../chain/deploy.ts";
import { devWallet } from "../../chain/dev-accounts.ts";
import { MAX_BLOCK_TIME_SECONDS } from "../../chain/mining.ts";
import { loadConfig } from "../context.ts";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";

export function chainCommand(program: Command, io: Io) {
  program
    .command("chain")
    .description(
      "start the embedded chain on loopback, deploy Token, PaymentChannels and the Nitro contracts, print the addresses",
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8545")
    .option("--accounts <n>", "dev accounts 1..n funded with tokens", "4")
    .option("--fee-bps <bps>", "platform commission in basis points", "0")
    .option(
      "--block-time <seconds>",
      "mine a block every this many seconds, as a public chain does (0: a block per transaction)",
      "0",
    )
    .action(
      async (
        opts: { host: string; port: string; accounts: string; feeBps: string; blockTime: string },
        cmd: Command,
      ) => {
        const config = await loadConfig(cmd.optsWithGlobals());
        const port = intFlag("--port", opts.port, 0, 65_535);
        const accounts = intFlag("--accounts", opts.accounts, 1, 19);
        const feeBps = intFlag("--fee-bps", opts.feeBps, 0, 1000);
        const blockTimeSeconds = intFlag("--block-time", opts.blockTime, 0, MAX_BLOCK_TIME_SECONDS);
        // Hardhat loads only for this command, so the others start quickly.
        const { serveEmbeddedChain } = await import("../../chain/embedded.ts");
        const chain = await serveEmbeddedChain(opts.host, port, { blockTimeSeconds }).catch(
          (err: { code?: string; message?: string }) => {
            throw new CliError(
              "CHAIN",
              err.code === "EADDRINUSE"
                ? `port ${port} on ${opts.host} is taken; pass --port`
                : `cannot start the chain: ${err.message}`,
            );
          },
        );
        const provider = providerFor(chain.url!);
        const funded = Array.from({ length: accounts }, (_, i) => devWallet(i + 1));
        const deployment = await deployContracts(devWallet(0).connect(provider), {
          holders: [devWallet(0), ...funded].map((w) => ({
            address: w.address as Address,
            amount: parseUnits("1000000", 18),
          })),
          feeRecipient: feeBps > 0 ? (devWallet(0).address as Address) : undefined,
          feeBps,
        });
        const file = await saveDeployment(config.dataDir, deployment);
        const summary = {
          rpc: chain.url,
          chainId: deployment.chainId,
          blockTimeSeconds,
          token: deployment.token,
          channels: deployment.channels,
          nitro: deployment.nitro,
          deploymentFile: file,
          devAccounts: funded.map((w, i) => ({
            index: i + 1,
            address: w.address,
            privateKey: w.privateKey,
          })),
        };
        if (config.json) io.out(`${JSON.stringify(summary)}\n`);
        else {
          io.out(
            `embedded chain ${deployment.chainId} on ${chain.url}, ${blockTimeSeconds > 0 ? `a block every ${blockTimeSeconds} s` : "a block per transaction"}\n`,
          );
          io.out(
            `  Token              ${deployment.token}\n  PaymentChannels    ${deployment.channels}\n` +
              `  NitroAdjudicator   ${deployment.nitro.adjudicator}\n` +
              `  ConsensusApp       ${deployment.nitro.consensusApp}\n` +
              `  VirtualPaymentApp  ${deployment.nitro.virtualPaymentApp}\n` +
              `  saved to           ${file}\n`,
          );
          io.out("  dev accounts (1,000,000 TOLL each; public test keys, never for real funds):\n");
          for (const a of summary.devAccounts)
            io.out(`    --dev-account ${a.index}  ${a.address}\n`);
          io.out("Ctrl-C stops the chain.\n");
        }
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        provider.destroy();
        await chain.stop();
      },
    );
}

/** Parses an integer flag or throws a one-line BAD_FLAG. */
export function intFlag(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new CliError(
      "BAD_FLAG",
      `${name} must be an integer from ${min} to ${max}, got "${raw}"`,
      { details: { flag: name } },
    );
  }
  return n;
}
