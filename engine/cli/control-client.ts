/**
 * The CLI's side of a running node's control socket (ADR 6): finds out whether a node serves an
 * account, and sends it one request.
 */
import { existsSync } from "node:fs";
import { connect } from "node:net";
import type { ControlRequest, ControlResponse } from "../node/control-protocol.ts";
import { CliError } from "./errors.ts";

/** The most bytes of a node's answer read (a poll lists at most 100 events). */
const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * Sends `req` to the node listening on `socketPath` and returns its result.
 * @returns undefined when no node listens there (no socket file, or a stale one)
 * @throws CliError NODE_REFUSED with the node's code and message when it answers with an error;
 *   CHAIN when it does not answer within `timeoutMs`.
 */
export async function askNode(
  socketPath: string,
  req: ControlRequest,
  timeoutMs = 120_000,
): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(socketPath)) return undefined;
  const answer = await new Promise<string | undefined>((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = "";
    sock.setEncoding("utf8");
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new CliError("CHAIN", `the running node did not answer within ${timeoutMs} ms`));
    });
    sock.once("connect", () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > MAX_RESPONSE_BYTES) {
        sock.destroy();
        reject(new CliError("CHAIN", "the running node's answer is too long"));
      }
    });
    sock.once("end", () => resolve(buf));
    sock.once("error", (err: NodeJS.ErrnoException) => {
      // A socket file nobody listens on is what a node killed with SIGKILL leaves behind.
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(undefined);
      else reject(new CliError("CHAIN", `cannot reach the running node: ${err.message}`));
    });
  });
  if (answer === undefined) return undefined;
  let res: ControlResponse;
  try {
    res = JSON.parse(answer) as ControlResponse;
  } catch (cause) {
    throw new CliError("CHAIN", "the running node's answer is not JSON", { cause });
  }
  if (!res.ok)
    throw new CliError(
      "NODE_REFUSED",
      `the running node refused: ${res.error.message} (${res.error.code})`,
      { details: { nodeCode: res.error.code } },
    );
  return res.result as Record<string, unknown>;
}
