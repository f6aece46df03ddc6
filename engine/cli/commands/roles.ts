/** `tollway market`, `tollway provider`, `tollway requester`: each role on its own. */
import { join } from "node:path";
import type { Command } from "commander";
import {
  DEFAULT_MAX_RESTING_PER_OWNER,
  DEFAULT_PER_IP_LIMIT,
  DEFAULT_PER_KEY_LIMIT,
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  MarketError,
} from "../../market/index.ts";
import { chainCapacity, createMarket, readChainId } from "../../node/market.ts";
import { loadConfig } from "../context.ts";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";
import { intFlag } from "./chain.ts";
import { providerCommand } from "./provider.ts";
import { requesterCommand } from "./requester.ts";
import { print, untilSignal } from "./role-io.ts";

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

  providerCommand(program, io);
  requesterCommand(program, io);
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
    why = err.shortMessage;
  }
  if (read !== undefined && given !== undefined && BigInt(read) !== given)
    throw new CliError(
      "CHAIN",
      `the chain at ${rpc} has chain id ${read}, not ${given}; check --rpc and --chain-id`,
      { details: { rpc, chainId: read, expectedChainId: given } },
    );
  if (read !== undefined) return read;
  if (given !== undefined) {
    if (given > BigInt(Number.MAX_SAFE_INTEGER))
      throw new CliError("BAD_FLAG", `--chain-id ${given} is too large`, {
        details: { flag: "--chain-id" },
      });
    return Number(given);
  }
  throw new CliError(
    "CHAIN",
    `the market needs the chain id orders are signed for: ${why}; start the chain, fix --rpc, or give --chain-id`,
    { details: { rpc } },
  );
}
