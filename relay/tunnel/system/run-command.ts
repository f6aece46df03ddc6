/**
 * Runs `ip`, `wg`, `tc` and `wireguard-go` through execa, optionally inside a network namespace
 * (`ip netns exec <ns> …`), and turns failures into `SystemTunnelError`s that name the command
 * and its stderr. Secrets never appear in argv: keys travel through stdin or 0600 files, and
 * `redact` scrubs anything that looks like a WireGuard key from what goes into an error.
 */
import { execa } from "execa";
import { SystemTunnelError } from "./errors.ts";

/** Options of one command. */
export interface RunOptions {
  /** Written to the command's stdin (e.g. a private key for `wg pubkey`). */
  readonly input?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the command after this long, ms (default 10,000). */
  readonly timeoutMs?: number;
}

/** What a successful command printed. */
export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command (argv, no shell) in the runner's namespace. */
export type RunCommand = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** A 32-byte key in base64, as WireGuard prints them. */
const KEY_PATTERN = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g;

/** Replaces every WireGuard-shaped key in `text` with `[key]`. */
export function redactKeys(text: string): string {
  return text.replace(KEY_PATTERN, "[key]");
}

/**
 * Returns a runner that executes commands in `netns` (or the current namespace when null).
 * @param netns - a network namespace name (created with `ip netns add`), or null
 * @throws (from the runner) SystemTunnelError COMMAND_MISSING when the binary is absent,
 *   COMMAND_FAILED when it exits non-zero or times out.
 * @example
 * const run = createRunner("twab12p");
 * const { stdout } = await run(["wg", "show", "twab12p0", "dump"]);
 */
export function createRunner(netns: string | null): RunCommand {
  return async (argv, options = {}) => {
    const full = netns === null ? [...argv] : ["ip", "netns", "exec", netns, ...argv];
    const [file, ...args] = full;
    if (file === undefined) throw new SystemTunnelError("COMMAND_FAILED", "empty command");
    const command = redactKeys(full.join(" "));
    const result = await execa(file, args, {
      input: options.input,
      env: options.env === undefined ? undefined : { ...options.env },
      timeout: options.timeoutMs ?? 10_000,
      reject: false,
      stripFinalNewline: true,
    });
    const stdout = typeof result.stdout === "string" ? result.stdout : "";
    const stderr = typeof result.stderr === "string" ? result.stderr : "";
    if (result.failed) {
      const code = (result as { code?: string }).code;
      if (code === "ENOENT") {
        throw new SystemTunnelError("COMMAND_MISSING", `${file}: not found`, { command });
      }
      const why = result.timedOut ? "timed out" : `exit ${String(result.exitCode)}`;
      const cleanErr = redactKeys(stderr.trim());
      throw new SystemTunnelError(
        "COMMAND_FAILED",
        `${command}: ${why}${cleanErr === "" ? "" : `: ${cleanErr.split("\n")[0]}`}`,
        { command, stderr: cleanErr, exitCode: result.exitCode ?? null, timedOut: result.timedOut },
      );
    }
    return { stdout, stderr };
  };
}
