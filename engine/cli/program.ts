/** The `tollway` CLI: each command is a thin shell over the library. */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";

const BENCH_DIR = fileURLToPath(new URL("../../bench/", import.meta.url));

/** The bench scripts that exist, by name (bench/<name>.ts). */
export function benchNames(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Builds the command tree; `out`/`err` receive what the CLI prints. */
export function buildProgram(io: { out: (s: string) => void; err: (s: string) => void }) {
  const program = new Command("tollway")
    .description("Payment-channel micropayments for metered tunnels")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command("bench")
    .description(`run a benchmark from bench/ (${benchNames().join(", ")})`)
    .argument("<name>", "benchmark name")
    .option("--json", "print one JSON object instead of a table")
    .action(async (name: string, opts: { json?: boolean }) => {
      if (!benchNames().includes(name)) {
        throw new CommanderError(
          2,
          "tollway.unknownBench",
          `unknown benchmark "${name}"; one of: ${benchNames().join(", ")}`,
        );
      }
      const code = await new Promise<number>((resolve) => {
        const child = spawn(
          process.execPath,
          [`${BENCH_DIR}${name}.ts`, ...(opts.json ? ["--json"] : [])],
          {
            stdio: "inherit",
          },
        );
        child.on("exit", (c) => resolve(c ?? 1));
      });
      if (code !== 0)
        throw new CommanderError(
          code,
          "tollway.benchFailed",
          `benchmark ${name} exited with ${code}`,
        );
    });
  return program;
}

/**
 * Runs the CLI and returns the exit code. Errors are one line on stderr, never a stack trace.
 * @example await runCli(["node", "tollway", "bench", "gas", "--json"])
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const io = {
    out: (s: string) => process.stdout.write(s),
    err: (s: string) => process.stderr.write(s),
  };
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      )
        return 0;
      if (err.code.startsWith("tollway.")) io.err(`tollway: ${err.message}\n`);
      return err.exitCode || 1;
    }
    io.err(`tollway: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
