/** The `tollway` CLI: each command is a thin shell over the library. */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import type { ErrorDetails } from "../../channels/index.ts";
import { chainCommand } from "./commands/chain.ts";
import { channelCommand } from "./commands/channel.ts";
import { demoCommand } from "./commands/demo.ts";
import { roleCommands } from "./commands/roles.ts";
import { markServing } from "./crash-guard.ts";
import { CliError, errorCode, errorDetails, explain } from "./errors.ts";
import type { Io } from "./io.ts";

const BENCH_DIR = fileURLToPath(new URL("../../bench/", import.meta.url));

/**
 * The bench scripts that exist, by name (bench/<name>.ts); none in an installed package, which
 * ships no bench/.
 */
export function benchNames(): string[] {
  if (!existsSync(BENCH_DIR)) return [];
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts") && !f.startsWith("_"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Commands that serve until stopped: an unhandled error is logged and they keep serving. */
const SERVING_COMMANDS = new Set(["market", "provider", "requester", "chain"]);

/** Builds the command tree; `io` receives what the CLI prints. */
export function buildProgram(io: Io) {
  const program = new Command("tollway")
    .description("Payment-channel micropayments for metered tunnels")
    .version("0.1.0")
    .option(
      "--rpc <url>",
      "JSON-RPC URL of the chain (env TOLLWAY_RPC; default http://127.0.0.1:8545)",
    )
    .option(
      "--channels <address>",
      "PaymentChannels contract (env TOLLWAY_CHANNELS; default: the saved deployment)",
    )
    .option("--chain-id <id>", "refuse any other chain (env TOLLWAY_CHAIN_ID)")
    .option(
      "--keystore <file>",
      "encrypted JSON keystore (env TOLLWAY_KEYSTORE; password in TOLLWAY_KEYSTORE_PASSWORD); or a key in TOLLWAY_KEY",
    )
    .option("--dev-account <n>", "use development account n of the embedded chain")
    .option(
      "--data-dir <dir>",
      "where deployments, channel stores and the watcher live (env TOLLWAY_DATA_DIR)",
    )
    .option(
      "--config <file>",
      "JSON config file (env TOLLWAY_CONFIG; default ./tollway.config.json if present)",
    )
    .option("--json", "print one JSON object")
    .option("--verbose", "print stack traces on errors")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  demoCommand(program, io);
  chainCommand(program, io);
  roleCommands(program, io);
  channelCommand(program, io);

  program
    .command("bench")
    .description(`run a benchmark from bench/ (${benchNames().join(", ")})`)
    .argument("<name>", "benchmark name")
    .option("--json", "print one JSON object instead of a table")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const json = cmd.optsWithGlobals().json === true;
      if (!benchNames().includes(name)) {
        throw new CliError(
          "BAD_FLAG",
          `unknown benchmark "${name}"; one of: ${benchNames().join(", ")}`,
          { details: { benchmark: name } },
        );
      }
      const code = await new Promise<number>((resolve) => {
        const child = spawn(
          process.execPath,
          [`${BENCH_DIR}${name}.ts`, ...(json ? ["--json"] : [])],
          {
            stdio: "inherit",
          },
        );
        child.on("exit", (c) => resolve(c ?? 1));
      });
      if (code !== 0)
        throw new CliError("CHAIN", `benchmark ${name} exited with ${code}`, { exitCode: code });
    });
  for (const cmd of program.commands)
    cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  program.hook("preAction", (_root, action) => {
    const name = action.name();
    const watching = name === "dispute" && action.opts().once !== true;
    if (SERVING_COMMANDS.has(name) || watching) markServing(watching ? "watcher" : name);
  });
  return program;
}

/**
 * Runs the CLI and returns the exit code. Errors are one line on stderr (`tollway: …`, or with
 * `--json` one JSON object `{"error":{"code","message"}}`); a stack trace only with `--verbose`.
 * @example process.exitCode = await runCli(process.argv);
 */
export async function runCli(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const json = argv.includes("--json");
  const program = buildProgram(io);
  if (json) {
    // Commander's own message goes out as the JSON error below, not as a line of its own.
    for (const cmd of [program, ...allSubcommands(program)])
      cmd.configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => undefined });
  }
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code))
        return 0;
      if (json) io.err(`${jsonError("BAD_FLAG", err.message.replace(/^error: /, ""))}\n`);
      return err.exitCode || 2;
    }
    const verbose = argv.includes("--verbose");
    const rpc = program.opts().rpc as string | undefined;
    const message = explain(err, rpc ?? process.env.TOLLWAY_RPC);
    io.err(
      json ? `${jsonError(errorCode(err), message, errorDetails(err))}\n` : `tollway: ${message}\n`,
    );
    if (verbose && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

/**
 * The one line `--json` prints on stderr for an error: `{"error":{"code","message"}}`, with the
 * error's `details` (JSON-safe: bigints as strings) when it has any.
 */
export function jsonError(code: string, message: string, details: ErrorDetails = {}): string {
  const error = Object.keys(details).length > 0 ? { code, message, details } : { code, message };
  return JSON.stringify({ error });
}

function allSubcommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allSubcommands(c)]);
}

/** Writes to the process's stdout and stderr. */
export const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};
