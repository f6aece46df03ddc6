/** `tollway channel open|topup|close|dispute|settle|list`: on-chain channel operations. */
import { join } from "node:path";
import type { Command } from "commander";
import { formatUnits, isAddress, parseUnits } from "ethers";
import type { SignedBalanceProof } from "../../../channels/signed.ts";
import { ChannelStore } from "../../../channels/store/index.ts";
import { type Address, asChannelId, type ChannelId } from "../../../channels/types.ts";
import type { WatchedChannel } from "../../../channels/watcher/core.ts";
import { readChannelHistory } from "../../../channels/watcher/history.ts";
import { startWatcher } from "../../../channels/watcher/watcher.ts";
import { type ChainContext, loadConfig, openChainContext } from "../context.ts";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";
import { intFlag } from "./chain.ts";

/** What commander parsed for one subcommand. */
interface Input {
  readonly opts: Record<string, unknown>;
  readonly args: readonly string[];
}

type Run = (ctx: ChainContext, decimals: number, input: Input) => Promise<Record<string, unknown>>;

/** Registers the channel subcommands. */
export function channelCommand(program: Command, io: Io) {
  const channel = program
    .command("channel")
    .description("open, top up, close, dispute, settle and list channels on chain");
  const action =
    (run: Run) =>
    async (...args: unknown[]) => {
      const cmd = args.at(-1) as Command;
      const config = await loadConfig(cmd.optsWithGlobals());
      const ctx = await openChainContext(config);
      try {
        const decimals = await ctx.chain.tokenDecimals();
        const result = await run(ctx, decimals, { opts: cmd.opts(), args: cmd.args });
        if (config.json)
          io.out(
            `${JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`,
          );
        else io.out(`${human(result)}\n`);
      } finally {
        ctx.close();
      }
    };

  channel
    .command("open")
    .description("open a channel to --partner with a first deposit")
    .requiredOption("--partner <address>", "the other participant")
    .requiredOption("--amount <tokens>", "first deposit, in whole tokens (e.g. 12.5)")
    .option("--window <seconds>", "settle window", "3600")
    .option("--salt <n>", "salt for the channel id (default: random)")
    .option("--no-permit", "use an existing allowance instead of a permit")
    .action(
      action(async (ctx, decimals, input) => {
        const o = input.opts;
        const partner = o.partner as string;
        if (!isAddress(partner))
          throw new CliError("BAD_FLAG", `--partner must be an address, got "${partner}"`);
        const salt =
          o.salt === undefined
            ? undefined
            : BigInt(intFlag("--salt", String(o.salt), 0, Number.MAX_SAFE_INTEGER));
        const opened = await ctx.chain.open({
          partner: partner as Address,
          amount: amountFlag(String(o.amount), decimals),
          settleWindow: intFlag("--window", String(o.window), 1, 16_777_215),
          salt,
          permit: o.permit === false ? false : undefined,
        });
        return {
          channelId: opened.channelId,
          ...opened.participants,
          tx: opened.hash,
          gasUsed: opened.gasUsed,
        };
      }),
    );

  channel
    .command("topup")
    .description("add tokens to a channel (your side by default)")
    .argument("<channelId>", "the channel")
    .requiredOption("--amount <tokens>", "amount in whole tokens")
    .option("--side <a|b>", "the side to fund (default: yours)")
    .action(
      action(async (ctx, decimals, input) => {
        const o = input.opts;
        const ch = await findChannel(ctx, channelArg(input.args));
        const side = o.side === undefined ? (ch.weAreB ? "b" : "a") : String(o.side).toLowerCase();
        if (side !== "a" && side !== "b")
          throw new CliError("BAD_FLAG", `--side must be a or b, got "${o.side}"`);
        const tx = await ctx.chain.topUp(
          ch.channelId,
          side === "b",
          amountFlag(String(o.amount), decimals),
        );
        return { channelId: ch.channelId, side, tx: tx.hash, gasUsed: tx.gasUsed };
      }),
    );

  channel
    .command("close")
    .description("close unilaterally with the partner's latest proof from the local store")
    .argument("<channelId>", "the channel")
    .action(
      action(async (ctx, _decimals, input) => {
        const ch = await findChannel(ctx, channelArg(input.args));
        if (ch.status !== "open")
          throw new CliError(
            "NOT_FOUND",
            `channel ${ch.channelId} is already closing; wait for its window, then \`tollway channel settle\``,
          );
        const proof = await latestReceived(ctx, ch.channelId);
        const history = await participantsOf(ctx, ch.channelId);
        const out = await ctx.chain.close(history, proof);
        return {
          channelId: ch.channelId,
          withProof: proof
            ? { nonce: proof.proof.nonce, transferred: proof.proof.transferred }
            : null,
          finalizesAt: new Date(out.finalizesAt * 1000).toISOString(),
          tx: out.hash,
        };
      }),
    );

  channel
    .command("settle")
    .description("pay out a channel whose settle window has ended")
    .argument("<channelId>", "the channel")
    .action(
      action(async (ctx, _decimals, input) => {
        const ch = await findChannel(ctx, channelArg(input.args));
        if (ch.status !== "closing" || !ch.closing)
          throw new CliError("NOT_FOUND", `channel ${ch.channelId} is open; close it first`);
        const tx = await ctx.chain.settle(ch.channelId, ch.closing);
        return { channelId: ch.channelId, tx: tx.hash, gasUsed: tx.gasUsed };
      }),
    );

  channel
    .command("list")
    .description("list your open and closing channels")
    .action(
      action(async (ctx, decimals, _input) => {
        const state = await readChannelHistory(ctx.chain, ctx.me, ctx.fromBlock);
        const channels = [...state.channels.values()].map((c) => ({
          channelId: c.channelId,
          status: c.status,
          role: c.weAreB ? "b" : "a",
          partner: c.weAreB ? c.a : c.b,
          depositA: formatUnits(c.depositA, decimals),
          depositB: formatUnits(c.depositB, decimals),
          ...(c.finalizesAt ? { finalizesAt: new Date(c.finalizesAt * 1000).toISOString() } : {}),
        }));
        return { account: ctx.me, channels };
      }),
    );

  channel
    .command("dispute")
    .description(
      "watch your channels: answer stale closes with the latest proof, settle when windows end",
    )
    .option("--once", "one round, then exit")
    .option("--interval <ms>", "poll interval", "2000")
    .action(
      action(async (ctx, _decimals, input) => {
        const o = input.opts;
        const store = await openStore(ctx);
        const watcher = await startWatcher({
          chain: ctx.chain,
          dir: join(ctx.config.dataDir, "watcher", ctx.me.toLowerCase()),
          fromBlock: ctx.fromBlock,
          pollIntervalMs: intFlag("--interval", String(o.interval), 100, 3_600_000),
          partnerProof: async (id) => (await store?.loadChannel(id))?.received ?? undefined,
        });
        const log: string[] = [];
        watcher.on("closed", (id: string) => log.push(`partner closed ${id}`));
        watcher.on("updated", (id: string) => log.push(`submitted the latest proof for ${id}`));
        watcher.on("settled", (id: string) => log.push(`settled ${id}`));
        watcher.on("error", (err: Error) => log.push(`error: ${err.message}`));
        try {
          if (o.once) await watcher.poll();
          else {
            watcher.start();
            await new Promise<void>((resolve) => {
              process.once("SIGINT", resolve);
              process.once("SIGTERM", resolve);
            });
          }
        } finally {
          await watcher.stop();
          await store?.close();
        }
        return {
          account: ctx.me,
          watched: watcher.state.channels.size,
          cursor: watcher.state.cursor,
          events: log,
        };
      }),
    );
}

function channelArg(args: readonly string[]): ChannelId {
  const raw = args[0] ?? "";
  try {
    return asChannelId(raw);
  } catch {
    throw new CliError("BAD_FLAG", `a channel id is 0x + 64 hex digits, got "${raw}"`);
  }
}

function amountFlag(raw: string, decimals: number): bigint {
  if (!/^\d+(\.\d+)?$/.test(raw))
    throw new CliError(
      "BAD_FLAG",
      `--amount must be a positive decimal number of tokens, got "${raw}"`,
    );
  try {
    return parseUnits(raw, decimals);
  } catch {
    throw new CliError("BAD_FLAG", `--amount has more than ${decimals} decimals: "${raw}"`);
  }
}

async function findChannel(ctx: ChainContext, id: ChannelId): Promise<WatchedChannel> {
  const state = await readChannelHistory(ctx.chain, ctx.me, ctx.fromBlock);
  const ch = state.channels.get(id);
  if (!ch)
    throw new CliError(
      "NOT_FOUND",
      `no open or closing channel ${id} of ${ctx.me} on this deployment; see \`tollway channel list\``,
    );
  return ch;
}

async function participantsOf(ctx: ChainContext, id: ChannelId) {
  const logs = await ctx.chain.contract.queryFilter(
    ctx.chain.contract.filters.ChannelOpened!(id),
    ctx.fromBlock,
  );
  const ev = logs[0] as unknown as { args: unknown[] } | undefined;
  if (!ev) throw new CliError("NOT_FOUND", `no ChannelOpened event for ${id}`);
  return {
    a: ev.args[1] as Address,
    b: ev.args[2] as Address,
    salt: ev.args[3] as bigint,
    openBlock: ev.args[4] as bigint,
  };
}

async function openStore(ctx: ChainContext): Promise<ChannelStore | undefined> {
  try {
    return await ChannelStore.open(join(ctx.config.dataDir, "channels"), {
      createIfMissing: false,
    });
  } catch (err) {
    if ((err as { code?: string }).code === "STORE_OPEN_FAILED") return undefined;
    throw err;
  }
}

async function latestReceived(
  ctx: ChainContext,
  id: ChannelId,
): Promise<SignedBalanceProof | undefined> {
  const store = await openStore(ctx);
  try {
    return (await store?.loadChannel(id))?.received ?? undefined;
  } finally {
    await store?.close();
  }
}

function human(result: Record<string, unknown>): string {
  return Object.entries(result)
    .map(
      ([k, v]) =>
        `${k.padEnd(12)} ${typeof v === "object" && v !== null ? JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 1).replace(/\n\s*/g, " ") : String(v)}`,
    )
    .join("\n");
}
