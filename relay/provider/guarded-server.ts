/**
 * The provider's listening socket: an `http.Server` of our own under the WebSocket server, so
 * that every TCP connection is admitted (connection-guard.ts) before a byte of it is parsed, a
 * socket that has not upgraded within `upgradeTimeoutMs` is cut off, plain HTTP requests get 426
 * and a close, and the slot of each socket is freed when the socket is.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { ConnectionGuard, type Slot, type SocketLimits } from "./connection-guard.ts";

/** What the node keeps of one socket. */
export interface SocketHandle {
  readonly socket: Socket;
  /** Set by the node once the socket is a WebSocket: how to close it when it is evicted. */
  evict: ((reason: string) => void) | null;
}

/** Options of `GuardedServer.listen`. */
export interface GuardedServerOptions {
  readonly host: string;
  readonly port: number;
  /** ws's hard message limit. */
  readonly maxPayloadBytes: number;
  /** From TCP accept to the WebSocket upgrade, ms. */
  readonly upgradeTimeoutMs: number;
  readonly admission: SocketLimits;
}

/** Called for each upgraded socket. */
export type OnWebSocket = (ws: WebSocket, slot: Slot<SocketHandle>) => void;

/** A listening, admission-guarded WebSocket server. */
export class GuardedServer {
  readonly guard: ConnectionGuard<SocketHandle>;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #slots = new Map<Socket, Slot<SocketHandle>>();
  #closing = false;

  private constructor(opts: GuardedServerOptions, onWebSocket: OnWebSocket, onError: OnError) {
    this.guard = new ConnectionGuard(opts.admission);
    const timeout = opts.upgradeTimeoutMs;
    this.#server = createServer({
      // Node's own clocks on the request line and headers, as a second line behind ours.
      headersTimeout: timeout,
      requestTimeout: timeout,
      keepAliveTimeout: Math.min(timeout, 5_000),
      connectionsCheckingInterval: Math.max(250, Math.min(timeout, 30_000)),
    });
    // Past both pools nothing more is accepted at all; the guard's finer limits sit below this.
    this.#server.maxConnections =
      opts.admission.maxConnections + opts.admission.maxHandshakes + opts.admission.maxPerIp;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#server.on("connection", (socket: Socket) => {
      try {
        this.#admit(socket, timeout);
      } catch (err) {
        socket.destroy();
        onError(err);
      }
    });
    this.#server.on("request", (_req, res) => {
      res.writeHead(426, { Connection: "close", Upgrade: "websocket" }).end();
    });
    this.#server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#upgrade(req, socket as Socket, head, onWebSocket);
      } catch (err) {
        socket.destroy();
        onError(err);
      }
    });
    this.#server.on("clientError", (_err, socket: Duplex) => socket.destroy());
  }

  /**
   * Listens on `opts.host:opts.port`.
   * @param onWebSocket - every upgraded socket with its slot (still in its handshake phase)
   * @param onError - faults of the shell itself (never peer input)
   * @throws the listen error (EADDRINUSE, …)
   */
  static listen(
    opts: GuardedServerOptions,
    onWebSocket: OnWebSocket,
    onError: OnError,
  ): Promise<GuardedServer> {
    const g = new GuardedServer(opts, onWebSocket, onError);
    return new Promise((resolve, reject) => {
      g.#server.once("error", reject);
      g.#server.listen(opts.port, opts.host, () => {
        g.#server.off("error", reject);
        g.#server.on("error", onError);
        resolve(g);
      });
    });
  }

  /** The port listened on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts off sockets that have not become WebSockets. */
  close(): Promise<void> {
    this.#closing = true;
    for (const [socket, slot] of this.#slots) if (slot.handle.evict === null) socket.destroy();
    return new Promise((resolve) => {
      this.#wss.close(() => this.#server.close(() => resolve()));
      // Upgraded sockets are closed by the node; the ones that do not answer are cut off.
      this.#server.closeIdleConnections();
    });
  }

  #admit(socket: Socket, timeoutMs: number): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const handle: SocketHandle = { socket, evict: null };
    const admitted = this.guard.admit(handle, socket.remoteAddress);
    if (!admitted.ok) {
      socket.destroy();
      return;
    }
    const { slot, evicted } = admitted;
    if (evicted !== null) {
      if (evicted.handle.evict !== null)
        evicted.handle.evict("the node is busy: another took the place of this handshake");
      else evicted.handle.socket.destroy();
    }
    this.#slots.set(socket, slot);
    const timer = setTimeout(() => {
      if (handle.evict === null) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once("close", () => {
      clearTimeout(timer);
      this.#slots.delete(socket);
      this.guard.release(slot);
    });
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer, onWebSocket: OnWebSocket): void {
    const slot = this.#slots.get(socket);
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
