/**
 * The provider's listening socket: an `http.Server` of our own under the WebSocket server, so
 * that every TCP connection is admitted (connection-guard.ts) before a byte of it is parsed, a
 * socket that has not upgraded within `upgradeTimeoutMs` is cut off, plain HTTP requests get 426
 * and a close, and the slot of each socket is freed when the socket is.
 *
 * Or the caller's `http.Server`, so that its own routes (metrics, a dashboard) share the port:
 * the caller's server then owns its connections, their HTTP timeouts and its requests, and a
 * socket is admitted when it asks for the WebSocket upgrade (every upgrade on that server is
 * the node's). The limits on WebSockets are the same either way.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { ConnectionGuard, type Slot, type SocketLimits } from "./connection-guard.ts";

/** What the node keeps of one socket. */
export interface SocketHandle {
  readonly socket: Socket;
  /** Set by the node once the socket is a WebSocket: how to close it when it is evicted. */
  evict: ((reason: string) => void) | null;
}

/** Options of `GuardedServer.listen` and `GuardedServer.attach`. */
export interface GuardedServerOptions {
  /** ws's hard message limit. */
  readonly maxPayloadBytes: number;
  /** From TCP accept to the WebSocket upgrade, ms (our own server only). */
  readonly upgradeTimeoutMs: number;
  readonly admission: SocketLimits;
}

/** Called for each upgraded socket. */
export type OnWebSocket = (ws: WebSocket, slot: Slot<SocketHandle>) => void;

/** A listening, admission-guarded WebSocket server. */
export class GuardedServer {
  readonly guard: ConnectionGuard<SocketHandle>;
  readonly #server: Server;
  /** Whether the HTTP server is ours (we listen, answer requests and close it). */
  readonly #own: boolean;
  readonly #wss: WebSocketServer;
  readonly #slots = new Map<Socket, Slot<SocketHandle>>();
  readonly #onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  #closing = false;

  private constructor(
    server: Server | null,
    opts: GuardedServerOptions,
    onWebSocket: OnWebSocket,
    onError: OnError,
  ) {
    this.guard = new ConnectionGuard(opts.admission);
    const timeout = opts.upgradeTimeoutMs;
    this.#own = server === null;
    this.#server =
      server ??
      createServer({
        // Node's own clocks on the request line and headers, as a second line behind ours.
        headersTimeout: timeout,
        requestTimeout: timeout,
        keepAliveTimeout: Math.min(timeout, 5_000),
        connectionsCheckingInterval: Math.max(250, Math.min(timeout, 30_000)),
      });
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#onUpgrade = (req, socket, head) => {
      try {
        this.#upgrade(req, socket as Socket, head, onWebSocket);
      } catch (err) {
        socket.destroy();
        onError(err);
      }
    };
    this.#server.on("upgrade", this.#onUpgrade);
    if (!this.#own) return;
    // Past both pools nothing more is accepted at all; the guard's finer limits sit below this.
    this.#server.maxConnections =
      opts.admission.maxConnections + opts.admission.maxHandshakes + opts.admission.maxPerIp;
    this.#server.on("connection", (socket: Socket) => {
      try {
        const slot = this.#admit(socket);
        if (slot !== null) this.#clockUpgrade(socket, slot, timeout);
      } catch (err) {
        socket.destroy();
        onError(err);
      }
    });
    this.#server.on("request", (_req, res) => {
      res.writeHead(426, { Connection: "close", Upgrade: "websocket" }).end();
    });
    this.#server.on("clientError", (_err, socket: Duplex) => socket.destroy());
  }

  /**
   * Listens on `host:port` with an HTTP server of its own.
   * @param onWebSocket - every upgraded socket with its slot (still in its handshake phase)
   * @param onError - faults of the shell itself (never peer input)
   * @throws the listen error (EADDRINUSE, …)
   */
  static listen(
    opts: GuardedServerOptions & { readonly host: string; readonly port: number },
    onWebSocket: OnWebSocket,
    onError: OnError,
  ): Promise<GuardedServer> {
    const g = new GuardedServer(null, opts, onWebSocket, onError);
    return new Promise((resolve, reject) => {
      g.#server.once("error", reject);
      g.#server.listen(opts.port, opts.host, () => {
        g.#server.off("error", reject);
        g.#server.on("error", onError);
        resolve(g);
      });
    });
  }

  /**
   * Serves WebSocket upgrades on the caller's HTTP server (listening already or later); the
   * caller listens on it, serves its requests and closes it.
   * @param onWebSocket - every upgraded socket with its slot (still in its handshake phase)
   * @param onError - faults of the shell itself (never peer input)
   */
  static attach(
    server: Server,
    opts: GuardedServerOptions,
    onWebSocket: OnWebSocket,
    onError: OnError,
  ): GuardedServer {
    return new GuardedServer(server, opts, onWebSocket, onError);
  }

  /** The port listened on (0 while the caller's server is not listening yet). */
  get port(): number {
    const address = this.#server.address();
    return address !== null && typeof address === "object" ? address.port : 0;
  }

  /**
   * Stops serving: cuts off sockets that have not become WebSockets, and closes our own HTTP
   * server (the caller's keeps running, without the node's upgrade handler).
   */
  close(): Promise<void> {
    this.#closing = true;
    for (const [socket, slot] of this.#slots) if (slot.handle.evict === null) socket.destroy();
    if (!this.#own) {
      this.#server.off("upgrade", this.#onUpgrade);
      return new Promise((resolve) => this.#wss.close(() => resolve()));
    }
    return new Promise((resolve) => {
      this.#wss.close(() => this.#server.close(() => resolve()));
      // Upgraded sockets are closed by the node; the ones that do not answer are cut off.
      this.#server.closeIdleConnections();
    });
  }

  /** Admits a socket (null: refused and destroyed); its slot is freed when the socket closes. */
  #admit(socket: Socket): Slot<SocketHandle> | null {
    if (this.#closing) {
      socket.destroy();
      return null;
    }
    const handle: SocketHandle = { socket, evict: null };
    const admitted = this.guard.admit(handle, socket.remoteAddress);
    if (!admitted.ok) {
      socket.destroy();
      return null;
    }
    const { slot, evicted } = admitted.value;
    if (evicted !== null) {
      if (evicted.handle.evict !== null)
        evicted.handle.evict("the node is busy: another took the place of this handshake");
      else evicted.handle.socket.destroy();
    }
    this.#slots.set(socket, slot);
    socket.once("close", () => {
      this.#slots.delete(socket);
      this.guard.release(slot);
    });
    return slot;
  }

  /** Cuts a socket off unless it has upgraded within `timeoutMs`. */
  #clockUpgrade(socket: Socket, slot: Slot<SocketHandle>, timeoutMs: number): void {
    const timer = setTimeout(() => {
      if (slot.handle.evict === null) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer, onWebSocket: OnWebSocket): void {
    // On the caller's server a socket is admitted only now: before, it is its HTTP's.
    const slot = this.#own ? this.#slots.get(socket) : (this.#admit(socket) ?? undefined);
    if (slot === undefined || slot.released || this.#closing) {
      socket.destroy();
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (slot.released) {
        ws.terminate();
        return;
      }
      onWebSocket(ws, slot);
    });
  }
}

/** Reports a fault of the server shell. */
export type OnError = (err: unknown) => void;
