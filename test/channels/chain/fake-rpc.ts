/**
 * A JSON-RPC endpoint on loopback whose behaviour a test switches at will: forward to a real
 * node, take requests and never answer, or answer with whatever bytes the test wants.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";

/** What the endpoint does with the next requests. */
export type FakeRpcMode =
  | { readonly kind: "forward"; readonly target: string }
  | { readonly kind: "hang" }
  | {
      readonly kind: "answer";
      /** The answer to a request body (the request's JSON-RPC id is `id`, when it has one). */
      readonly answer: (id: unknown) => {
        status?: number;
        headers?: Record<string, string>;
        body: Uint8Array | string;
      };
    };

/** A running fake RPC. */
export interface FakeRpc {
  readonly url: string;
  mode: FakeRpcMode;
  /** Requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Starts a fake RPC on 127.0.0.1 (any free port) in `mode`. */
export async function startFakeRpc(mode: FakeRpcMode): Promise<FakeRpc> {
  let requests = 0;
  const state = { mode };
  const server: Server = createServer((req, res) => {
    requests++;
    void handle(state.mode, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: FakeRpcMode) {
      state.mode = m;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(mode: FakeRpcMode, req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  if (mode.kind === "hang") return; // took the request; never answers
  if (mode.kind === "answer") {
    let id: unknown;
    try {
      id = (JSON.parse(body) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    const a = mode.answer(id);
    res.writeHead(a.status ?? 200, a.headers ?? { "content-type": "application/json" });
    res.end(a.body);
    return;
  }
  try {
    const upstream = await fetch(mode.target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    res.writeHead(upstream.status, { "content-type": "application/json" });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  } catch {
    // The node behind went away: the client sees a dropped connection, as it would for real.
    res.destroy();
  }
}

/** A bare TCP listener that accepts connections, reads them, and never writes a byte. */
export async function startSilentTcp(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
