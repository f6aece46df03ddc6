/** `tollway channel open|topup|close|dispute|settle|list`: on-chain channel operations. */
import type { Command } from "commander";
import { formatUnits, isAddress } from "ethers";
import {
  type Address,
  asChannelId,
  type ChannelId,
  ChannelStore,
  isChannelError,
  readChannelHistory,
  shortMessageOf,
  startWatcher,
  type WatchedChannel,
} from "../../../channels/index.ts";
import { ChannelActionError, closeWithProof } from "../../node/channel-actions.ts";
import { accountLayout, migrateLegacyStores } from "../../node/layout.ts";
import { type ChainContext, loadConfig, openChainContext } from "../context.ts";
import { askNode } from "../control-client.ts";
import { CliError } from "../errors.ts";
import {
  flag,
  formatTokens,
  parseInteger,
  parseTokens,
  parseWindow,
  type TokenUnit,
} from "../flags.ts";
import type { Io } from "../io.ts";
import { requireFunds, tokenUnit } from "../token.ts";

/** What commander parsed for one subcommand. */
interface Input {
  readonly opts: Record<string, unknown>;
  readonly args: readonly string[];
}

type Run = (ctx: ChainContext, unit: TokenUnit, input: Input) => Promise<Record<string, unknown>>;

/** Registers the channel subcommands. */
export function channelCommand(program: Command, io: Io) {
  const channel = program
    .command("channel")
    .description("open, top up, close, dispute, settle and list channels on chain");
  const print = (json: boolean, result: Record<string, unknown>) =>
    io.out(
      json
        ? `${JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`
        : `${human(result)}\n`,
    );
  // Flags are checked before anything touches the chain: a bad one costs no RPC round trip.
  const action =
    (check: (input: Input) => void, run: Run) =>
    async (...args: unknown[]) => {
      const cmd = args.at(-1) as Command;
      const config = await loadConfig(cmd.optsWithGlobals());
      const input = { opts: cmd.opts(), args: cmd.args };
      check(input);
      const ctx = await openChainContext(config);
      try {
        print(config.json, await run(ctx, await tokenUnit(ctx.account), input));
      } finally {
        ctx.close();
      }
    };

  channel
    .command("open")
    .description("open a channel to --partner with a first deposit")
    .requiredOption("--partner <address>", "the other participant")
    .requiredOption("--amount <tokens>", "first deposit, in tokens (e.g. 12.5)")
    .option(
      "--window <seconds>",
      "settle window, seconds (10 to 2592000, the contract's bounds)",
      "3600",
    )
    .option("--salt <n>", "salt for the channel id (default: random)")
    .option("--no-permit", "use an existing allowance instead of a permit")
    .action(
      action(
        ({ opts: o }) => {
          partnerFlag(o.partner);
          flag(parseTokens("--amount", o.amount));
          flag(parseWindow("--window", o.window));
          if (o.salt !== undefined)
            flag(parseInteger("--salt", o.salt, 0, Number.MAX_SAFE_INTEGER));
        },
        async (ctx, unit, { opts: o }) => {
          const amount = flag(parseTokens("--amount", o.amount, unit));
          const permit = o.permit !== false;
          await requireFunds(ctx.account, ctx.me, amount, unit, { viaAllowance: !permit });
          const opened = await ctx.account.open({
            partner: partnerFlag(o.partner),
            amount,
            settleWindow: flag(parseWindow("--window", o.window)),
            salt:
              o.salt === undefined
                ? undefined
                : BigInt(flag(parseInteger("--salt", o.salt, 0, Number.MAX_SAFE_INTEGER))),
            permit: permit ? undefined : false,
          });
          return {
            channelId: opened.channelId,
            ...opened.participants,
            ref: opened.ref,
            deposit: formatTokens(amount, unit),
            tx: opened.hash,
            gasUsed: opened.gasUsed,
          };
        },
      ),
    );

  channel
    .command("topup")
    .description("add tokens to a channel (your side by default)")
    .argument("<channelId>", "the channel")
    .requiredOption("--amount <tokens>", "amount in tokens (e.g. 2.5)")
    .option("--side <a|b>", "the side to fund (default: yours)")
    .action(
      action(
        ({ opts: o, args }) => {
          channelArg(args);
          flag(parseTokens("--amount", o.amount));
          if (o.side !== undefined && o.side !== "a" && o.side !== "b")
            throw new CliError("BAD_FLAG", `--side must be a or b, got ${JSON.stringify(o.side)}`, {
              details: { flag: "--side" },
            });
        },
        async (ctx, unit, { opts: o, args }) => {
          const ch = await findChannel(ctx, channelArg(args));
          const side = o.side === undefined ? (ch.weAreB ? "b" : "a") : String(o.side);
          const amount = flag(parseTokens("--amount", o.amount, unit));
          const already = side === "b" ? ch.depositB : ch.depositA;
          flag(parseTokens("--amount", o.amount, unit, MAX_DEPOSIT_LEFT(already)));
          await requireFunds(ctx.account, ctx.me, amount, unit, { viaAllowance: false });
          const tx = await ctx.account.settlement.send({
            type: "ChainSendDeposit",
            channelId: ch.channelId,
            participant: side === "b" ? "B" : "A",
            amount,
          });
          return {
            channelId: ch.channelId,
            side,
            added: formatTokens(amount, unit),
            tx: tx.hash,
            gasUsed: tx.gasUsed,
          };
        },
      ),
    );

  channel
    .command("close")
    .description(
      "close unilaterally with the partner's latest proof (through the running node, if one serves the account)",
    )
    .argument("<channelId>", "the channel")
    .action(
      action(
        ({ args }) => channelArg(args),
        async (ctx, _unit, { args }) => {
          const id = channelArg(args);
          const layout = accountLayout(ctx.config.dataDir, ctx.me);
          const viaNode = await askNode(layout.socket, { op: "close", channelId: id });
          if (viaNode) return viaNode;
          const store = await openStore(ctx);
          try {
            const proof = (await store?.loadChannel(id))?.received ?? undefined;
            return { ...(await closeWithProof(ctx.account.settlement, id, proof)), via: "cli" };
          } catch (err) {
            if (err instanceof ChannelActionError)
              throw new CliError("NOT_FOUND", err.shortMessage);
            throw err;
          } finally {
            await store?.close();
          }
        },
      ),
    );

  channel
    .command("settle")
    .description("pay out a channel whose settle window has ended")
    .argument("<channelId>", "the channel")
    .action(
      action(
        ({ args }) => channelArg(args),
        async (ctx, _unit, { args }) => {
          const ch = await findChannel(ctx, channelArg(args));
          if (ch.status !== "closing" || !ch.closing)
            throw new CliError("NOT_FOUND", `channel ${ch.channelId} is open; close it first`);
          const tx = await ctx.account.settlement.send({
            type: "ChainSendSettle",
            channelId: ch.channelId,
            closing: ch.closing,
          });
          return { channelId: ch.channelId, tx: tx.hash, gasUsed: tx.gasUsed };
        },
      ),
    );

  channel
    .command("list")
    .description("list your open and closing channels")
    .action(
      action(
        () => undefined,
        async (ctx, unit) => {
          const state = await readChannelHistory(ctx.account.settlement, ctx.me, ctx.fromBlock);
          const channels = [...state.channels.values()].map((c) => ({
            channelId: c.channelId,
            status: c.status,
            role: c.weAreB ? "b" : "a",
            partner: c.weAreB ? c.a : c.b,
            depositA: tokenNumber(c.depositA, unit),
            depositB: tokenNumber(c.depositB, unit),
            ...(c.finalizesAt ? { finalizesAt: new Date(c.finalizesAt * 1000).toISOString() } : {}),
          }));
          return { account: ctx.me, channels };
        },
      ),
    );

  channel
    .command("dispute")
    .description(
      "watch your channels: answer stale closes with the latest proof, settle when windows end (a running node does this itself; then one round is run through it)",
    )
    .option("--once", "one round, then exit")
    .option("--interval <ms>", "poll interval, ms (100 to 3600000)", "2000")
    .action(
      action(
        ({ opts: o }) => flag(parseInteger("--interval", o.interval, 100, 3_600_000)),
        async (ctx, _unit, { opts: o }) => {
          const layout = accountLayout(ctx.config.dataDir, ctx.me);
          const viaNode = await askNode(layout.socket, { op: "poll" });
          if (viaNode) {
            return {
              account: ctx.me,
              via: "node",
              ...(o.once ? {} : { note: "the running node watches this account's channels" }),
              ...viaNode,
            };
          }
          const store = await openStore(ctx);
          const watcher = await startWatcher({
            settlement: ctx.account.settlement,
            dir: layout.watcher,
            fromBlock: ctx.fromBlock,
            pollIntervalMs: flag(parseInteger("--interval", o.interval, 100, 3_600_000)),
            partnerProof: async (id) => (await store?.loadChannel(id))?.received ?? undefined,
          }).catch(async (err: unknown) => {
            await store?.close();
            throw lockedByNode(err, layout.watcher);
          });
          const log: string[] = [];
          watcher.on("closed", (id: string) => log.push(`partner closed ${id}`));
          watcher.on("updated", (id: string) => log.push(`submitted the latest proof for ${id}`));
          watcher.on("settled", (id: string) => log.push(`settled ${id}`));
          watcher.on("error", (err: Error) => log.push(`error: ${shortMessageOf(err)}`));
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
            via: "cli",
            watched: watcher.state.channels.size,
            cursor: watcher.state.cursor,
            events: log,
          };
        },
      ),
    );
}

/** What may still be deposited on a side that holds `already` (the contract's uint112 cap). */
const MAX_DEPOSIT_LEFT = (already: bigint) => {
  const left = (1n << 112n) - 1n - already;
  return left > 0n ? left : 0n;
};

function partnerFlag(raw: unknown): Address {
  if (typeof raw !== "string" || !isAddress(raw))
    throw new CliError(
      "BAD_FLAG",
      `--partner must be an address (0x + 40 hex digits), got ${JSON.stringify(String(raw).slice(0, 50))}`,
      { details: { flag: "--partner" } },
    );
  return raw as Address;
}

function channelArg(args: readonly string[]): ChannelId {
  const raw = args[0] ?? "";
  if (!/^0x[0-9a-fA-F]{64}$/.test(raw))
    throw new CliError(
      "BAD_FLAG",
      `a channel id is 0x + 64 hex digits, got ${JSON.stringify(raw.slice(0, 80))}`,
      { details: { argument: "channelId" } },
    );
  return asChannelId(raw);
}

/** A token amount as a plain decimal string (`3.5`, `1.0`), as `list` has always printed it. */
function tokenNumber(units: bigint, unit: TokenUnit): string {
  return formatUnits(units, unit.decimals);
}

async function findChannel(ctx: ChainContext, id: ChannelId): Promise<WatchedChannel> {
  const state = await readChannelHistory(ctx.account.settlement, ctx.me, ctx.fromBlock);
  const ch = state.channels.get(id);
  if (!ch)
    throw new CliError(
      "NOT_FOUND",
      `no open or closing channel ${id} of ${ctx.me} on this deployment; see \`tollway channel list\``,
      { details: { channelId: id } },
    );
  return ch;
}

/**
 * The account's channel store (after moving a legacy one into place), or undefined when it has
 * none.
 * @throws CliError NODE_RUNNING when another process holds it and answers on no control socket.
 */
async function openStore(ctx: ChainContext): Promise<ChannelStore | undefined> {
  const layout = accountLayout(ctx.config.dataDir, ctx.me);
  try {
    await migrateLegacyStores(ctx.config.dataDir, ctx.me);
    return await ChannelStore.open(layout.channels, { createIfMissing: false });
  } catch (err) {
    if (isChannelError(err, "STORE_OPEN_FAILED")) return undefined;
    throw lockedByNode(err, layout.channels);
  }
}

function lockedByNode(err: unknown, dir: string): unknown {
  const locked =
    isChannelError(err, "STORE_LOCKED") ||
    (err as { cause?: { code?: string } }).cause?.code === "LEVEL_LOCKED";
  if (!locked) return err;
  return new CliError(
    "NODE_RUNNING",
    `${dir} is in use by another process that answers on no control socket (a node of an older release, or one started with its control socket off); stop it, then run this again`,
    { cause: err },
  );
}

function human(result: Record<string, unknown>): string {
  return Object.entries(result)
    .map(
      ([k, v]) =>
        `${k.padEnd(12)} ${typeof v === "object" && v !== null ? JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 1).replace(/\n\s*/g, " ") : String(v)}`,
    )
    .join("\n");
}
