/**
 * The `proxy` tunnel driver: an HTTP CONNECT and SOCKS5 proxy on one port in the provider
 * process. Each session gets its own credentials; bytes (and chunks, counted as packets) are
 * counted both ways per session; only admitted (paid-up) sessions may open connections; the
 * data plane stops at the session's budget (`setLimits`) and resumes when it grows; teardown
 * destroys the session's connections at once. Destinations are looked up once and judged
 * (destination-rules.ts) before any connection: by default only globally reachable addresses
 * other than the host's own are served.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { RelayError } from "../../errors.ts";
import type { TunnelConfig, TunnelRequest, TunnelUsage } from "../driver.ts";
import type { MeteredTunnelDriver, TunnelLimits } from "../metered.ts";
import { type DestinationRules, parseDestinationRules } from "./destination-rules.ts";
import { MAX_HEAD_BYTES, parseConnectHead } from "./http-connect.ts";
import { LookupGate } from "./lookup-gate.ts";
import { httpRefusal, type ProxyRefusalCode, socksRefusal } from "./refusals.ts";
import {
  type CheckedAddress,
  connectOptions,
  hostAddresses,
  type Lookup,
  type ResolveContext,
  resolveDestination,
  systemLookup,
} from "./resolve-destination.ts";
import { parseGreeting, parseRequest, parseUserPass, reply, SocksReply } from "./socks5.ts";

/** Options of `createProxyDriver`. */
export interface ProxyDriverOptions {
  /** Listen address (default 127.0.0.1). */
  readonly host?: string;
  /** Listen port (default 0: any free port). */
  readonly port?: number;
  /** The host requesters should connect to (default: the listen address). */
  readonly publicHost?: string;
  /**
   * Destinations served even where the default or `deny` refuses them, e.g. a site on loopback:
   * `ADDRESS`, `ADDRESS/PREFIX` or `*`, optionally `:PORT` or `:LOW-HIGH`; IPv6 in brackets
   * when a port follows (`127.0.0.1/32:8080`, `[::1]:8080`, `10.0.0.0/8`).
   */
  readonly allow?: readonly string[];
  /** Destinations refused besides the default ones, same syntax (`*:25`, `203.0.114.0/24`). */
  readonly deny?: readonly string[];
  /** The resolver (default: `dns.lookup` with `all: true`); its answers are judged, then used. */
  readonly lookup?: Lookup;
  /** Longest wait for a name lookup, queueing included, ms (default 5,000). */
  readonly lookupTimeoutMs?: number;
  /** Name lookups running at once, over all sessions (default 2, under libuv's 4 threads). */
  readonly maxConcurrentLookups?: number;
  /** Longest wait for a destination to accept the connection, ms (default 10,000). */
  readonly connectTimeoutMs?: number;
  /** Connections per session, being looked up, connecting or open (default 64). */
  readonly maxConnectionsPerSession?: number;
  /** Client connections not yet tunnelled, over all sessions (default 1,024). */
  readonly maxHandshakes?: number;
  /** Handshake timeout per client connection, ms (default 10,000). */
  readonly handshakeTimeoutMs?: number;
  /** Called when a session's data plane stops at its budget (the provider may tick early). */
  readonly onLimitReached?: (sessionId: string) => void;
}

type Dir = "in" | "out";

interface Pipe {
  readonly client: Socket;
  target: Socket | null;
  /** Aborted when the pipe goes: ends a lookup still waiting for it. */
  readonly gone: AbortController;
  /** Data held back by the budget, per direction. */
  held: { in: Buffer | null; out: Buffer | null };
  /** The source of a direction has ended (its FIN is passed on once nothing is held). */
  ended: { in: boolean; out: boolean };
}

interface ProxySession {
  readonly id: string;
  readonly username: string;
  readonly password: Buffer;
  limits: TunnelLimits;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  readonly pipes: Set<Pipe>;
}

/**
 * Starts the proxy listener and returns the driver.
 * @throws RelayError TUNNEL_UNAVAILABLE when the port cannot be bound, TUNNEL_PARAMS_INVALID
 *   when an `allow` or `deny` entry does not parse.
 * @example
 * const proxy = await createProxyDriver({ port: 0, allow: ["127.0.0.1/32:8080"] });
 * const config = await proxy.activate({ sessionId, kind: "proxy", params: {} });
 * // config: { host, port, username, password, protocols: "http-connect,socks5" }
 */
export async function createProxyDriver(
  options: ProxyDriverOptions = {},
): Promise<MeteredTunnelDriver & { readonly port: number }> {
  const driver = new ProxyDriver(options);
  await driver.listen();
  return driver;
}

class ProxyDriver implements MeteredTunnelDriver {
  readonly kind = "proxy" as const;
  readonly #opts: ProxyDriverOptions;
  readonly #server: Server;
  readonly #sessions = new Map<string, ProxySession>();
  readonly #byUser = new Map<string, ProxySession>();
  readonly #unbound = new Set<Socket>();
  readonly #resolve: ResolveContext;
  #port = 0;

  constructor(opts: ProxyDriverOptions) {
    this.#opts = opts;
    const rules: DestinationRules = parseDestinationRules(opts.allow, opts.deny);
    this.#resolve = {
      rules,
      lookup: opts.lookup ?? systemLookup,
      gate: new LookupGate(opts.maxConcurrentLookups ?? 2),
      timeoutMs: opts.lookupTimeoutMs ?? 5_000,
      ownAddresses: hostAddresses,
    };
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  get port(): number {
    return this.#port;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", (err) =>
        reject(new RelayError("TUNNEL_UNAVAILABLE", "proxy cannot listen", {}, { cause: err })),
      );
      this.#server.listen(this.#opts.port ?? 0, this.#opts.host ?? "127.0.0.1", () => {
        const addr = this.#server.address();
        this.#port = typeof addr === "object" && addr !== null ? addr.port : 0;
        resolve();
      });
    });
  }

  async activate(request: TunnelRequest): Promise<TunnelConfig> {
    if (request.kind !== "proxy") {
      throw new RelayError("TUNNEL_UNAVAILABLE", `proxy driver cannot serve ${request.kind}`);
    }
    const existing = this.#sessions.get(request.sessionId);
    const session: ProxySession = existing ?? {
      id: request.sessionId,
      username: `s${randomBytes(9).toString("hex")}`,
      password: randomBytes(18),
      limits: { admit: true, maxBytes: null, maxPackets: null },
      bytesIn: 0,
      bytesOut: 0,
      packetsIn: 0,
      packetsOut: 0,
      pipes: new Set(),
    };
    this.#sessions.set(session.id, session);
    this.#byUser.set(session.username, session);
    return {
      host: this.#opts.publicHost ?? this.#opts.host ?? "127.0.0.1",
      port: this.#port,
      username: session.username,
      password: session.password.toString("base64url"),
      protocols: "http-connect,socks5",
    };
  }

  async deactivate(sessionId: string): Promise<void> {
    const s = this.#sessions.get(sessionId);
    if (s === undefined) return;
    this.#sessions.delete(sessionId);
    this.#byUser.delete(s.username);
    for (const p of s.pipes) destroyPipe(p);
    s.pipes.clear();
  }

  async readUsage(sessionId: string): Promise<TunnelUsage> {
    return this.usageNow(sessionId);
  }

  /** Synchronous counters (the provider reads them on every tick). */
  usageNow(sessionId: string): TunnelUsage {
    const s = this.#sessions.get(sessionId);
    if (s === undefined) return { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
    return {
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      packetsIn: s.packetsIn,
      packetsOut: s.packetsOut,
    };
  }

  setLimits(sessionId: string, limits: TunnelLimits): void {
    const s = this.#sessions.get(sessionId);
    if (s === undefined) return;
    s.limits = limits;
    // A larger budget releases what was held back, in order, and resumes the readers.
    for (const p of s.pipes) {
      for (const dir of ["in", "out"] as const) {
        const held = p.held[dir];
        if (held === null) continue;
        p.held[dir] = null;
        this.#forward(s, p, dir, held);
        if (p.held[dir] === null && p.ended[dir]) (dir === "in" ? p.target : p.client)?.end();
      }
    }
  }

  async close(): Promise<void> {
    for (const id of [...this.#sessions.keys()]) await this.deactivate(id);
    for (const sock of this.#unbound) sock.destroy();
    this.#unbound.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on("error", () => client.destroy());
    if (this.#unbound.size >= (this.#opts.maxHandshakes ?? 1024)) {
      client.destroy();
      return;
    }
    this.#hold(client);
    let buf: Buffer = Buffer.alloc(0);
    let stage: "first" | "http" | "socks-greeting" | "socks-auth" | "socks-request" = "first";
    let session: ProxySession | undefined;
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > MAX_HEAD_BYTES) {
        client.destroy();
        return;
      }
      if (stage === "first") stage = buf[0] === 5 ? "socks-greeting" : "http";
      if (stage === "http") {
        const head = parseConnectHead(buf);
        if (head.kind === "incomplete") return;
        client.off("data", onData);
        if (head.kind === "bad") {
          client.end(`HTTP/1.1 ${head.status} ${head.reason}\r\nConnection: close\r\n\r\n`);
          return;
        }
        const s = this.#authenticate(head.username, head.password);
        if (s === undefined) {
          client.end(
            'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="tollway"\r\nConnection: close\r\n\r\n',
          );
          return;
        }
        if (!s.limits.admit) {
          client.end(httpRefusal("PAYMENT_REQUIRED"));
          return;
        }
        this.#open(s, client, head.host, head.port, buf.subarray(head.headLength), (refusal) =>
          refusal === null ? "HTTP/1.1 200 Connection Established\r\n\r\n" : httpRefusal(refusal),
        );
        return;
      }
      if (stage === "socks-greeting") {
        const g = parseGreeting(buf);
        if (g.kind === "incomplete") return;
        if (g.kind === "bad" || !g.value.userPass) {
          client.end(Buffer.from([5, 0xff]));
          client.off("data", onData);
          return;
        }
        client.write(Buffer.from([5, 2]));
        buf = buf.subarray(g.length);
        stage = "socks-auth";
      }
      if (stage === "socks-auth") {
        const a = parseUserPass(buf);
        if (a.kind === "incomplete") return;
        session =
          a.kind === "ok" ? this.#authenticate(a.value.username, a.value.password) : undefined;
        if (a.kind === "bad" || session === undefined) {
          client.end(Buffer.from([1, 1]));
          client.off("data", onData);
          return;
        }
        client.write(Buffer.from([1, 0]));
        buf = buf.subarray(a.length);
        stage = "socks-request";
      }
      if (stage === "socks-request") {
        const r = parseRequest(buf);
        if (r.kind === "incomplete") return;
        client.off("data", onData);
        if (r.kind === "bad") {
          client.destroy();
          return;
        }
        if ("unsupportedAddress" in r.value) {
          client.end(reply(SocksReply.ADDRESS_NOT_SUPPORTED));
          return;
        }
        if (r.value.command !== 1) {
          client.end(reply(SocksReply.COMMAND_NOT_SUPPORTED));
          return;
        }
        // The session may have been torn down or fallen behind since it authenticated.
        const s = session !== undefined ? this.#sessions.get(session.id) : undefined;
        if (s === undefined || !s.limits.admit) {
          client.end(reply(SocksReply.NOT_ALLOWED));
          return;
        }
        this.#open(s, client, r.value.host, r.value.port, buf.subarray(r.length), (refusal) =>
          refusal === null ? reply(SocksReply.SUCCEEDED) : socksRefusal(refusal),
        );
      }
    };
    client.on("data", onData);
  }

  #authenticate(username: string | null, password: string | null): ProxySession | undefined {
    if (username === null || password === null) return undefined;
    const s = this.#byUser.get(username);
    if (s === undefined) return undefined;
    const given = Buffer.from(password, "base64url");
    return given.length === s.password.length && timingSafeEqual(given, s.password) ? s : undefined;
  }

  /** Tracks a client that has no tunnel yet: bounded by the handshake timeout and `close`. */
  #hold(client: Socket): void {
    this.#unbound.add(client);
    client.once("close", () => this.#unbound.delete(client));
    client.setTimeout(this.#opts.handshakeTimeoutMs ?? 10_000, () => client.destroy());
  }

  /**
   * Resolves and judges the destination, then connects to a judged address. The pipe counts
   * against the session's connections from the first lookup on, and goes with the session.
   */
  #open(
    s: ProxySession,
    client: Socket,
    host: string,
    port: number,
    early: Buffer,
    answer: (refusal: ProxyRefusalCode | null) => string | Buffer,
  ): void {
    if (s.pipes.size >= (this.#opts.maxConnectionsPerSession ?? 64)) {
      client.end(answer("TOO_MANY_CONNECTIONS"));
      return;
    }
    client.pause();
    client.setTimeout(0);
    this.#unbound.delete(client);
    const pipe: Pipe = {
      client,
      target: null,
      gone: new AbortController(),
      held: { in: null, out: null },
      ended: { in: false, out: false },
    };
    s.pipes.add(pipe);
    const drop = () => {
      s.pipes.delete(pipe);
      destroyPipe(pipe);
    };
    client.on("close", drop);
    // A refused client is answered, then held like an unbound one until it goes.
    const refuse = (code: ProxyRefusalCode) => {
      s.pipes.delete(pipe);
      pipe.gone.abort();
      client.off("close", drop);
      if (client.destroyed) return;
      this.#hold(client);
      client.end(answer(code));
      client.resume();
    };
    resolveDestination(host, port, this.#resolve, pipe.gone.signal).then(
      (resolution) => {
        if (pipe.gone.signal.aborted) return;
        if (!this.#sessions.has(s.id)) drop();
        else if (!resolution.ok) refuse(resolution.code);
        else this.#connect(s, pipe, resolution.value, port, early, answer, refuse, drop);
      },
      // Resolution answers with values; should the host's interfaces be unreadable, refuse.
      () => refuse("CONNECT_FAILED"),
    );
  }

  #connect(
    s: ProxySession,
    pipe: Pipe,
    addresses: readonly CheckedAddress[],
    port: number,
    early: Buffer,
    answer: (refusal: ProxyRefusalCode | null) => string | Buffer,
    refuse: (code: ProxyRefusalCode) => void,
    drop: () => void,
  ): void {
    const { client } = pipe;
    const target = tcpConnect({ ...connectOptions(addresses), port, noDelay: true });
    pipe.target = target;
    const connectTimer = setTimeout(() => {
      target.destroy();
      refuse("CONNECT_TIMEOUT");
    }, this.#opts.connectTimeoutMs ?? 10_000);
    target.once("close", () => clearTimeout(connectTimer));
    let established = false;
    target.on("error", (err: NodeJS.ErrnoException) => {
      if (established) drop();
      else refuse(err.code === "ECONNREFUSED" ? "CONNECT_REFUSED" : "CONNECT_FAILED");
    });
    target.on("close", (hadError) => {
      if (hadError && s.pipes.has(pipe)) drop();
    });
    // Half-closes pass through once everything held back for that direction has been sent.
    client.on("end", () => {
      pipe.ended.in = true;
      if (pipe.held.in === null) target.end();
    });
    target.on("end", () => {
      pipe.ended.out = true;
      if (pipe.held.out === null) client.end();
    });
    target.on("connect", () => {
      established = true;
      clearTimeout(connectTimer);
      if (!this.#sessions.has(s.id) || client.destroyed) {
        drop();
        return;
      }
      client.write(answer(null));
      client.on("data", (chunk: Buffer) => this.#forward(s, pipe, "in", chunk));
      target.on("data", (chunk: Buffer) => this.#forward(s, pipe, "out", chunk));
      if (early.length > 0) this.#forward(s, pipe, "in", Buffer.from(early));
      client.resume();
    });
  }

  /** Moves a chunk through the pipe within the session's budget; holds back the rest. */
  #forward(s: ProxySession, p: Pipe, dir: Dir, chunk: Buffer): void {
    const src = dir === "in" ? p.client : p.target!;
    const dst = dir === "in" ? p.target! : p.client;
    if (dst.destroyed) return;
    const { maxBytes, maxPackets } = s.limits;
    let allowed = chunk.length;
    if (maxBytes !== null)
      allowed = Math.min(allowed, Math.max(0, maxBytes - s.bytesIn - s.bytesOut));
    if (maxPackets !== null && s.packetsIn + s.packetsOut >= maxPackets) allowed = 0;
    if (allowed > 0) {
      const part = allowed === chunk.length ? chunk : chunk.subarray(0, allowed);
      if (dir === "in") {
        s.bytesIn += part.length;
        s.packetsIn++;
      } else {
        s.bytesOut += part.length;
        s.packetsOut++;
      }
      if (!dst.write(part)) {
        src.pause();
        dst.once("drain", () => {
          if (p.held[dir] === null) src.resume();
        });
      }
    }
    if (allowed < chunk.length) {
      p.held[dir] = chunk.subarray(allowed);
      src.pause();
      this.#opts.onLimitReached?.(s.id);
    } else if (p.held[dir] === null && src.isPaused() && dst.writableNeedDrain === false) {
      src.resume();
    }
  }
}

function destroyPipe(p: Pipe): void {
  p.gone.abort();
  p.client.destroy();
  p.target?.destroy();
}
