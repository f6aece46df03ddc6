/** The `tollway` CLI: each command is a thin shell over the library. */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { chainCommand } from "./commands/chain.ts";
import { channelCommand } from "./commands/channel.ts";
import { demoCommand } from "./commands/demo.ts";
import { roleCommands } from "./commands/roles.ts";
import { CliError, explain } from "./errors.ts";
import type { Io } from "./io.ts";

const BENCH_DIR = fileURLToPath(new URL("../../bench/", import.meta.url));

/** The bench scripts that exist, by name (bench/<name>.ts). */
export function benchNames(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts") && !f.startsWith("_"))
    .map((f) => f.slice(0, -3))
    .sort();
}

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
  return program;
}

/**
 * Runs the CLI and returns the exit code. Errors are one line on stderr; a stack trace only with
 * `--verbose`.
 * @example process.exitCode = await runCli(process.argv);
 */
export async function runCli(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code))
        return 0;
      return err.exitCode || 2;
    }
    const verbose = argv.includes("--verbose");
    const rpc = program.opts().rpc as string | undefined;
    io.err(`tollway: ${explain(err, rpc ?? process.env.TOLLWAY_RPC)}\n`);
    if (verbose && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};
