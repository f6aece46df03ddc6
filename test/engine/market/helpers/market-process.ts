/** Runs `tollway market` as a child process (the CLI, as users start it) for crash tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../../..");
const BIN = resolve(ROOT, "engine/cli/bin.ts");

/** A market child process and what it printed first. */
export interface MarketProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly chainId: number;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Starts `tollway --json [global] market --port 0 [flags]` and resolves once it prints its
 * URL; `prefix` runs it under another program (e.g. strace).
 */
export function startMarket(
  global: readonly string[],
  flags: readonly string[] = [],
  prefix: readonly string[] = [],
): Promise<MarketProcess> {
  const args = [
    ...prefix,
    process.execPath,
    BIN,
    "--json",
    ...global,
    "market",
    "--port",
    "0",
    ...flags,
  ];
  const child = spawn(args[0]!, args.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return new Promise((resolveStart, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0]!;
      if (!out.includes("\n")) return;
      const first = JSON.parse(line) as { url: string; chainId: number };
      resolveStart({
        child,
        url: first.url,
        chainId: first.chainId,
        stderr: () => err,
        async kill() {
          // Under a tracer, the market is the tracer's child: kill it, not just the tracer
          // (which would let it run on, detached).
          for (const pid of descendants(child.pid!)) process.kill(pid, "SIGKILL");
          child.kill("SIGKILL");
          await exited;
        },
      });
    });
    child.once("exit", (code) =>
      reject(new Error(`market exited with ${code} before it was ready: ${err}`)),
    );
  });
}

/** Process ids below `pid`, read from /proc (empty where /proc has no children lists). */
function descendants(pid: number): number[] {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const kids = text.split(" ").filter(Boolean).map(Number);
  return kids.flatMap((k) => [...descendants(k), k]);
}

/** Runs the CLI to its end; resolves with its exit code and output. */
export function runCli(
  args: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((r) => child.once("exit", (code) => r({ code: code ?? -1, out, err })));
}
