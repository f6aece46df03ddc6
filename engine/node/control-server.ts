/**
 * A running node's control socket (ADR 6): a Unix socket in the account's directory, mode 0600
 * in a 0700 directory, so that only the node's own user reaches it. Commands that would touch
 * the node's channel store (`tollway channel close`, `dispute`) are sent here instead of opening
 * the store a second time. One request per connection; every resource a client can hold is
 * bounded (connections, request size, time).
 */

import { chmod, unlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { shortMessageOf } from "../../channels/index.ts";
import {
  type ControlRequest,
  type ControlResponse,
  codeOf,
  encodeControlResponse,
  MAX_CONTROL_REQUEST_BYTES,
  parseControlRequest,
} from "./control-protocol.ts";

/** What a node does for each request. */
export interface ControlHandlers {
  ping(): Promise<Record<string, unknown>>;
  close(req: Extract<ControlRequest, { op: "close" }>): Promise<Record<string, unknown>>;
  poll(): Promise<Record<string, unknown>>;
}

/** Limits of the control socket. */
export interface ControlLimits {
  /** Connections at once (default 16); more are refused at accept. */
  readonly maxConnections: number;
  /** A connection that sends no full request line in this time is dropped (default 5,000 ms). */
  readonly requestTimeoutMs: number;
}

/** The longest socket path Linux takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** A listening control socket. */
export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `path` (replacing a stale socket file: the caller holds the account's store lock,
 * so no other node of this account is running).
 * @throws Error with code ENAMETOOLONG when `path` is longer than a socket path can be.
 */
export async function startControlServer(
  path: string,
  handlers: ControlHandlers,
  limits: Partial<ControlLimits> = {},
): Promise<ControlServer> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw Object.assign(
      new Error(`control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes`),
      { code: "ENAMETOOLONG" },
    );
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  const timeoutMs = limits.requestTimeoutMs ?? 5_000;
  const open = new Set<Socket>();
  const server: Server = createServer((sock) => {
    open.add(sock);
    sock.once("close", () => open.delete(sock));
    serve(sock, handlers, timeoutMs);
  });
  server.maxConnections = limits.maxConnections ?? 16;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    path,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    },
  };
}

function serve(sock: Socket, handlers: ControlHandlers, timeoutMs: number): void {
  let buf = "";
  let answered = false;
  sock.setEncoding("utf8");
  sock.setTimeout(timeoutMs, () => sock.destroy());
  // A client that goes away mid-answer is no error of ours.
  sock.on("error", () => sock.destroy());
  const reply = (r: ControlResponse) => {
    if (sock.destroyed) return;
    sock.end(encodeControlResponse(r));
    // A client that keeps the connection open (or keeps sending) after its answer is dropped.
    sock.setTimeout(timeoutMs);
  };
  sock.on("data", (chunk: string) => {
    if (answered) return;
    buf += chunk;
    const nl = buf.indexOf("\n");
    if (nl < 0 && Buffer.byteLength(buf) <= MAX_CONTROL_REQUEST_BYTES) return;
    answered = true;
    sock.setTimeout(0);
    const parsed = parseControlRequest(nl < 0 ? buf : buf.slice(0, nl));
    buf = "";
    if (!parsed.ok) {
      reply({ ok: false, error: { code: parsed.code, message: parsed.reason } });
      return;
    }
    const req = parsed.value;
    const run =
      req.op === "ping"
        ? handlers.ping()
        : req.op === "poll"
          ? handlers.poll()
          : handlers.close(req);
    run.then(
      (result) => reply({ ok: true, result }),
      (err: unknown) =>
        reply({
          ok: false,
          error: { code: codeOf(err), message: shortMessageOf(err) },
        }),
    );
  });
}
