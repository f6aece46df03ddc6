/** Runs `tollway` as real child processes for the CLI's end-to-end tests. */
import { type ChildProcess, execFile, spawn } from "node:child_process";

/** A long-running role: its first JSON line, what it printed so far, and a way to stop it. */
export interface RunningRole {
  readonly child: ChildProcess;
  readonly first: Record<string, unknown>;
  out(): string;
  err(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node engine/cli/bin.ts ...args` and resolves once it prints its first JSON line. */
export function startRole(
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<RunningRole> {
  const child = spawn(process.execPath, [...nodeArgs, "engine/cli/bin.ts", ...args]);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      const had = out.includes("\n");
      out += d;
      if (!had && out.includes("\n")) {
        resolve({
          child,
          first: JSON.parse(out.split("\n")[0]!) as Record<string, unknown>,
          out: () => out,
          err: () => err,
          async stop(signal = "SIGINT") {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
}

/** Runs a one-shot command to its end. */
export function runOnce(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["engine/cli/bin.ts", ...args],
      { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          out: stdout,
          err: stderr,
        }),
    );
  });
}

/** Polls `probe` every 100 ms until it returns a value, or fails after `ms`. */
export async function eventually<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
