/**
 * The provider's connections: the listening socket (guarded-server.ts, on the node's own HTTP
 * server or the caller's), the handshake (HELLO, AUTH, AUTH_OK), the limits each connection
 * lives under (frame rate, OPEN rate, frames before AUTH, the auth and idle deadlines, bytes
 * buffered to a peer that does not read), the reading of frames, and their routing to the parts
 * that handle them. A frame whose handler has an async step (OPEN, SETTLE_PROPOSE) holds the
 * connection's later frames back until it is done, so that each connection's frames are handled
 * in order.
 */

import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { type RawData, WebSocket } from "ws";
import type { Address, ChannelDomain, ProofSigner, ProofVerifier } from "../../channels/index.ts";
import { CloseCode, closeCodeOf, type RelayErrorCode } from "../errors.ts";
import { decodeFrame, encodeFrame, MAX_FRAME_BYTES } from "../wire/codec.ts";
import type {
  CloseFrame,
  Frame,
  OpenFrame,
  PayFrame,
  QuoteFrame,
  SettleProposeFrame,
} from "../wire/frames.ts";
import { PROTOCOL_VERSION } from "../wire/frames.ts";
import { handshakeDigest } from "../wire/handshake.ts";
import {
  DEFAULT_SOCKET_LIMITS,
  OwnedChannels,
  type Slot,
  type SocketLimits,
} from "./connection-guard.ts";
import { DEFAULT_DIRECTORY_CACHE_LIMITS, type DirectoryCacheLimits } from "./directory-cache.ts";
import { GuardedServer, type SocketHandle } from "./guarded-server.ts";
import { type RateLimit, TokenBucket } from "./rate-limiter.ts";

/**
 * Connection limits: how many sockets, for how long, how fast. The counts (`maxConnections`,
 * `reservedForPayers`, `maxHandshakes`, `maxPerIp`) are described in connection-guard.ts, the
 * channel-lookup limits in directory-cache.ts.
 */
export interface ConnectionLimits extends SocketLimits, DirectoryCacheLimits {
  /** Our frame size limit, checked before decoding (default 4 KiB). */
  readonly maxFrameBytes: number;
  /** ws's hard limit; larger messages close the socket with 1009 (default 16 KiB). */
  readonly maxPayloadBytes: number;
  /** A socket that has not upgraded to a WebSocket is cut off after this (default 3,000 ms). */
  readonly upgradeTimeoutMs: number;
  /** An unauthenticated WebSocket is dropped after this (default 5,000 ms). */
  readonly authTimeoutMs: number;
  /** Frames a socket may send before AUTH; one more closes it (default 8). */
  readonly maxFramesBeforeAuth: number;
  /** An authenticated connection that holds no channel is dropped after this (default 30,000 ms). */
  readonly idleTimeoutMs: number;
  /** Frames per second and burst per connection. */
  readonly rate: RateLimit;
  /** OPENs (other than resumes) per second and burst per connection (default 10/s, 20). */
  readonly openRate: RateLimit;
  /** Frames queued behind an OPEN in progress (default 4,096). */
  readonly maxQueued: number;
  /** Bytes queued to a peer that does not read before it is cut off (default 2 MiB). */
  readonly maxBufferedBytes: number;
}

/** The defaults of `ConnectionLimits`. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  ...DEFAULT_SOCKET_LIMITS,
  ...DEFAULT_DIRECTORY_CACHE_LIMITS,
  maxFrameBytes: MAX_FRAME_BYTES,
  maxPayloadBytes: 16 * 1024,
  upgradeTimeoutMs: 3_000,
  authTimeoutMs: 5_000,
  maxFramesBeforeAuth: 8,
  idleTimeoutMs: 30_000,
  rate: { perSecond: 100_000, burst: 20_000 },
  openRate: { perSecond: 10, burst: 20 },
  maxQueued: 4_096,
  maxBufferedBytes: 2 * 1024 * 1024,
};

/** A channel as its connection holds it: the connection its requester pays and runs sessions on. */
export interface OwnedChannel {
  owner: Connection | null;
}

/**
 * A requester's connection. The other parts read `authed` (the requester's address once AUTH
 * passed) and `channels`; the rest is this file's.
 */
export interface Connection {
  readonly ws: WebSocket;
  readonly nonce: Buffer;
  authed: Address | null;
  authTimer: NodeJS.Timeout | null;
  readonly bucket: TokenBucket;
  lastRateError: number;
  busy: boolean;
  readonly queue: Frame[];
  /** The channels it owns (see `bind`). */
  readonly channels: Set<OwnedChannel>;
  closed: boolean;
  /** Its place among the node's sockets (connection-guard.ts). */
  readonly slot: Slot<SocketHandle>;
  /** OPENs that may cost a channel lookup. */
  readonly opens: TokenBucket;
  framesBeforeAuth: number;
  idleTimer: NodeJS.Timeout | null;
}

/** What the other parts may do to connections. */
export interface Peers {
  /** Sends a frame (nothing when `conn` is null or gone). */
  send(conn: Connection | null, frame: Frame): void;
  /** Sends an ERROR frame, counted by code. */
  error(conn: Connection | null, code: RelayErrorCode, message: string, ref?: string | null): void;
  /** Closes a connection with a WebSocket close code (cut off if it does not answer). */
  drop(conn: Connection, code: number, reason: string): void;
}

/** The parts an authenticated connection's frames go to. */
export interface FrameHandlers {
  /** PAY frames: the proof pipeline (the hot path). */
  readonly proofs: { onPay(conn: Connection, frame: PayFrame): void };
  readonly sessions: {
    onOpen(conn: Connection, frame: OpenFrame): Promise<void>;
    onClose(conn: Connection, frame: CloseFrame): void;
    onQuote(conn: Connection, frame: QuoteFrame): void;
  };
  readonly settlement: {
    onSettlePropose(conn: Connection, frame: SettleProposeFrame): Promise<void>;
  };
}

/** What `Connections` needs of the node. */
export interface ConnectionsOptions {
  readonly limits: ConnectionLimits;
  readonly domain: ChannelDomain;
  /** The provider's key: signs AUTH_OK. */
  readonly signer: ProofSigner;
  /** Checks AUTH signatures. */
  readonly verifier: ProofVerifier;
  /** Milliseconds, monotonic (the node's session clock). */
  readonly clock: () => number;
  /** Whether `requester` has a channel on this node (asked only when the node is nearly full). */
  hasChannelOf(requester: Address): boolean;
  /** A fault of ours (never peer input) to report. */
  fail(err: unknown): void;
}

/** Where to serve: the node's own HTTP server on `host:port`, or the caller's `server`. */
export type ServeOn =
  | { readonly host: string; readonly port: number }
  | { readonly server: Server };

/** Connections of one provider node. */
export class Connections implements Peers {
  readonly #opts: ConnectionsOptions;
  readonly #limits: ConnectionLimits;
  readonly #conns = new Set<Connection>();
  #handlers: FrameHandlers | null = null;
  #server: GuardedServer | null = null;
  #closing = false;
  #errorsSent = 0;
  readonly #errorsByCode: Record<string, number> = {};

  constructor(opts: ConnectionsOptions) {
    this.#opts = opts;
    this.#limits = opts.limits;
  }

  /**
   * Starts accepting connections; their frames go to `handlers`.
   * @throws the listen error (EADDRINUSE, …) on the node's own server
   */
  async serve(on: ServeOn, handlers: FrameHandlers): Promise<void> {
    this.#handlers = handlers;
    const opts = {
      maxPayloadBytes: this.#limits.maxPayloadBytes,
      upgradeTimeoutMs: this.#limits.upgradeTimeoutMs,
      admission: this.#limits,
    };
    const onWebSocket = (ws: WebSocket, slot: Slot<SocketHandle>) => this.#accept(ws, slot);
    const fail = (err: unknown) => this.#opts.fail(err);
    this.#server =
      "server" in on
        ? GuardedServer.attach(on.server, opts, onWebSocket, fail)
        : await GuardedServer.listen({ ...opts, ...on }, onWebSocket, fail);
  }

  /** The port served on (0 before `serve`, or while the caller's server is not listening). */
  get port(): number {
    return this.#server?.port ?? 0;
  }

  /** Open connections now. */
  get size(): number {
    return this.#conns.size;
  }

  /** ERROR frames sent, in all and by code. */
  errorStats(): { errorsSent: number; errorsByCode: Record<string, number> } {
    return { errorsSent: this.#errorsSent, errorsByCode: { ...this.#errorsByCode } };
  }

  /** Closes every connection (GOING_AWAY) and stops serving. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const c of this.#conns) this.drop(c, CloseCode.GOING_AWAY, "provider stops");
    await this.#server?.close();
  }

  send(conn: Connection | null, frame: Frame): void {
    if (conn === null || conn.closed || conn.ws.readyState !== WebSocket.OPEN) return;
    // A peer that stops reading does not get to pile up our memory.
    if (conn.ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      conn.ws.terminate();
      return;
    }
    conn.ws.send(encodeFrame(frame));
  }

  error(
    conn: Connection | null,
    code: RelayErrorCode,
    message: string,
    ref: string | null = null,
  ): void {
    this.#errorsSent++;
    this.#errorsByCode[code] = (this.#errorsByCode[code] ?? 0) + 1;
    this.send(conn, { type: "ERROR", code, message, ref });
  }

  drop(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.ws.close(code, reason);
    // A peer that does not complete the closing handshake is cut off.
    setTimeout(() => conn.ws.terminate(), 1_000).unref();
  }

  #accept(ws: WebSocket, slot: Slot<SocketHandle>): void {
    if (this.#closing) {
      ws.close(CloseCode.GOING_AWAY, "provider stops");
      return;
    }
    const now = this.#opts.clock();
    const conn: Connection = {
      ws,
      nonce: randomBytes(32),
      authed: null,
      authTimer: null,
      bucket: new TokenBucket(this.#limits.rate, now),
      lastRateError: Number.NEGATIVE_INFINITY,
      busy: false,
      queue: [],
      // A channel makes the connection a payer's (it leaves the strangers' share); with the last
      // one gone it is a stranger again, on the idle clock.
      channels: new OwnedChannels((owning) => this.#onOwning(conn, owning)),
      closed: false,
      slot,
      opens: new TokenBucket(this.#limits.openRate, now),
      framesBeforeAuth: 0,
      idleTimer: null,
    };
    slot.handle.evict = (reason) => {
      this.error(conn, "CONNECTION_LIMIT", reason);
      this.drop(conn, CloseCode.TRY_AGAIN_LATER, "CONNECTION_LIMIT");
    };
    this.#conns.add(conn);
    conn.authTimer = setTimeout(
      () => this.drop(conn, CloseCode.AUTH_TIMEOUT, "AUTH_TIMEOUT"),
      this.#limits.authTimeoutMs,
    );
    ws.on("message", (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on("error", () => ws.terminate());
    ws.on("close", () => this.#onClose(conn));
    const { domain, signer } = this.#opts;
    this.send(conn, {
      type: "HELLO",
      version: PROTOCOL_VERSION,
      chainId: domain.chainId,
      contract: domain.verifyingContract.toLowerCase() as Address,
      provider: signer.address,
      nonce: conn.nonce,
    });
  }

  #onClose(conn: Connection): void {
    conn.closed = true;
    if (conn.authTimer !== null) clearTimeout(conn.authTimer);
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    this.#server?.guard.release(conn.slot);
    this.#conns.delete(conn);
    // Sessions outlive their socket: the requester may come back and resume; if it does not,
    // the credit window runs out and the session is torn down like any unpaid one.
    for (const channel of conn.channels) if (channel.owner === conn) channel.owner = null;
    conn.channels.clear();
  }

  /**
   * Everything a peer sends enters here, inside one guard: a frame that cannot be read gets an
   * ERROR and closes the socket (sessions outlive it: the requester reconnects and resumes), and
   * a fault of ours while handling one is reported and closes only this socket, never the node.
   */
  #onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    try {
      this.#receive(conn, data, isBinary);
    } catch (err) {
      this.#opts.fail(err);
      this.error(conn, "INTERNAL", "internal error");
      this.drop(conn, CloseCode.INTERNAL_ERROR, "INTERNAL");
    }
  }

  /** Closes a socket that sent what cannot be a frame, with an ERROR that says why first. */
  #refuse(conn: Connection, code: RelayErrorCode, reason: string): void {
    this.error(conn, code, reason);
    this.drop(conn, closeCodeOf(code), code);
  }

  #receive(conn: Connection, data: RawData, isBinary: boolean): void {
    const now = this.#opts.clock();
    if (!conn.bucket.take(now)) {
      // Report a flood once in a while, not once per dropped frame.
      if (now - conn.lastRateError > 250) {
        conn.lastRateError = now;
        this.error(conn, "RATE_LIMITED", "too many frames; some were dropped");
      }
      return;
    }
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.#refuse(conn, "FRAME_MALFORMED", "frames are binary messages");
      return;
    }
    const decoded = decodeFrame(data, this.#limits.maxFrameBytes);
    if (!decoded.ok) {
      this.#refuse(conn, decoded.code, decoded.reason);
      return;
    }
    const frame = decoded.value;
    if (conn.authed === null) {
      if (++conn.framesBeforeAuth > this.#limits.maxFramesBeforeAuth) {
        this.#refuse(conn, "RATE_LIMITED", "too many frames before AUTH");
        return;
      }
      if (frame.type !== "AUTH") {
        this.error(conn, "FRAME_UNEXPECTED", "authenticate first");
        return;
      }
      this.#onAuth(conn, frame);
      return;
    }
    if (conn.busy) {
      if (conn.queue.length >= this.#limits.maxQueued) {
        this.error(conn, "RATE_LIMITED", "too many frames behind an OPEN");
        return;
      }
      conn.queue.push(frame);
      return;
    }
    this.#dispatch(conn, frame);
  }

  #dispatch(conn: Connection, frame: Frame): void {
    const handlers = this.#handlers!;
    switch (frame.type) {
      case "PAY":
        handlers.proofs.onPay(conn, frame);
        return;
      case "OPEN":
        // A new session may cost a chain lookup; a resume costs none and is never held back.
        if (frame.resume === null && !conn.opens.take(this.#opts.clock())) {
          this.error(conn, "RATE_LIMITED", "too many OPENs; try again shortly", frame.channelId);
          return;
        }
        this.#serially(conn, () => handlers.sessions.onOpen(conn, frame));
        return;
      case "CLOSE":
        handlers.sessions.onClose(conn, frame);
        return;
      case "SETTLE_PROPOSE":
        this.#serially(conn, () => handlers.settlement.onSettlePropose(conn, frame));
        return;
      case "QUOTE":
        handlers.sessions.onQuote(conn, frame);
        return;
      case "ERROR":
        // The requester refused something we sent; nothing to do but not to answer it.
        return;
      default:
        this.error(conn, "FRAME_UNEXPECTED", `${frame.type} is not accepted from a requester`);
    }
  }

  /** Runs an async handler with the connection's later frames held back until it is done. */
  #serially(conn: Connection, fn: () => Promise<void>): void {
    conn.busy = true;
    fn()
      .catch((err) => {
        this.#opts.fail(err);
        this.error(conn, "INTERNAL", "internal error");
      })
      .finally(() => {
        conn.busy = false;
        while (!conn.busy && conn.queue.length > 0 && !conn.closed) {
          this.#dispatch(conn, conn.queue.shift()!);
        }
      });
  }

  #onAuth(conn: Connection, frame: Frame & { type: "AUTH" }): void {
    const { domain, signer, verifier } = this.#opts;
    const digest = handshakeDigest(
      "requester",
      domain,
      signer.address,
      frame.requester,
      conn.nonce,
      frame.nonce,
    );
    const check = verifier.checkDigest(digest, frame.signature, frame.requester);
    if (!check.ok) {
      this.error(conn, "AUTH_FAILED", "signature does not match the address");
      this.drop(conn, CloseCode.AUTH_FAILED, "AUTH_FAILED");
      return;
    }
    const admitted = this.#server!.guard.authenticate(conn.slot, () =>
      this.#opts.hasChannelOf(check.value),
    );
    if (!admitted.ok) {
      this.#refuse(conn, admitted.code, admitted.reason);
      return;
    }
    conn.authed = check.value;
    if (conn.authTimer !== null) clearTimeout(conn.authTimer);
    conn.authTimer = null;
    this.#armIdle(conn);
    const back = handshakeDigest(
      "provider",
      domain,
      signer.address,
      check.value,
      conn.nonce,
      frame.nonce,
    );
    this.send(conn, { type: "AUTH_OK", signature: signer.signDigest(back) });
  }

  /** Drops the connection at the idle deadline unless it holds a channel by then. */
  #armIdle(conn: Connection): void {
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      conn.idleTimer = null;
      if (conn.channels.size === 0) {
        this.#refuse(conn, "IDLE_TIMEOUT", "no channel opened on this connection in time");
      }
    }, this.#limits.idleTimeoutMs);
  }

  #onOwning(conn: Connection, owning: boolean): void {
    if (conn.closed) return;
    if (owning) {
      this.#server?.guard.promote(conn.slot);
      return;
    }
    this.#server?.guard.demote(conn.slot);
    this.#armIdle(conn);
  }
}

/** `conn` now owns `channel` (its payments and sessions go through it), taken from any other. */
export function bind(conn: Connection, channel: OwnedChannel): void {
  if (channel.owner !== null && channel.owner !== conn) channel.owner.channels.delete(channel);
  channel.owner = conn;
  conn.channels.add(channel);
}
