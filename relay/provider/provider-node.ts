/**
 * The provider node: the imperative shell around the channel and session cores. It serves the
 * WebSocket protocol, authenticates requesters, opens sessions on channels it finds through a
 * `ChannelDirectory`, runs the proof pipeline, drives the tunnel drivers and the session timers.
 *
 * The proof pipeline (the hot path) is proof-pipeline.ts.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { type RawData, WebSocket } from "ws";
import { createSigner, type ProofSigner } from "../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import { shortMessageOf } from "../../channels/index.ts";
import { type ChannelState, createChannel } from "../../channels/state/channel-state.ts";
import type { ChannelEffect } from "../../channels/state/effects.ts";
import { transition } from "../../channels/state/transition.ts";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import type { Address, ChannelDomain, ChannelId } from "../../channels/types.ts";
import { CloseCode, closeCodeOf, type RelayErrorCode } from "../errors.ts";
import {
  billedOf,
  leaseEndOf,
  openProviderSession,
  owedOf,
  type ProviderSessionEffect,
  type ProviderSessionInput,
  type ProviderSessionState,
  providerSessionTransition,
  wakeAt,
} from "../session/provider-session.ts";
import type { SessionTerms } from "../session/terms.ts";
import type { TunnelConfig, TunnelDriver, TunnelKind } from "../tunnel/driver.ts";
import { isMetered } from "../tunnel/metered.ts";
import { decodeFrame, encodeFrame, MAX_FRAME_BYTES } from "../wire/codec.ts";
import type {
  Frame,
  MeterMode,
  OpenFrame,
  QuoteFrame,
  SettleProposeFrame,
} from "../wire/frames.ts";
import { PROTOCOL_VERSION } from "../wire/frames.ts";
import { handshakeDigest } from "../wire/handshake.ts";
import {
  AdmissionControl,
  type AdmissionLimits,
  type AdmissionStats,
  busyMessage,
  DEFAULT_ADMISSION,
} from "./admission.ts";
import type { ChannelDirectory } from "./channel-directory.ts";
import {
  DEFAULT_SOCKET_LIMITS,
  OwnedChannels,
  type Slot,
  type SocketLimits,
} from "./connection-guard.ts";
import { balanceOf, DebtLedger } from "./debt-ledger.ts";
import {
  cachedDirectory,
  DEFAULT_DIRECTORY_CACHE_LIMITS,
  type DirectoryCacheLimits,
} from "./directory-cache.ts";
import { disablePretenuring } from "./gc-tuning.ts";
import { GuardedServer, type SocketHandle } from "./guarded-server.ts";
import { measureVerifyRate } from "./load-meter.ts";
import {
  DEFAULT_PIPELINE_LIMITS,
  type PipelineStats,
  ProofPipeline,
  type ProofPipelineLimits,
} from "./proof-pipeline.ts";
import { type RateLimit, TokenBucket } from "./rate-limiter.ts";

/** A provider's price and credit policy for one metering mode. */
export interface PricePolicy {
  /** The lowest unit price accepted (a requester may offer more, e.g. the deal's price). */
  readonly unitPrice: bigint;
  /** The most a session may owe. */
  readonly creditLimit: bigint;
  /** WARN to teardown, ms (default 1,000). */
  readonly graceMs?: number;
  /** USAGE interval, ms (default 1,000). */
  readonly tickMs?: number;
  /** Counter polling, ms (default 100). */
  readonly pollMs?: number;
  /** Second mode: teardown margin before an unpaid second, ms (default 100). */
  readonly marginMs?: number;
  /** First unit deadline, ms (default 10,000). */
  readonly openTimeoutMs?: number;
  /**
   * Open tunnels at once on credit instead of after the first unit (default false): what a
   * fast-lane ISP does, since a path pays no hop before every hop's lane is up.
   */
  readonly activateOnCredit?: boolean;
}

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

/** Options of `createProviderNode`. */
export interface ProviderNodeOptions {
  /** The provider's 32-byte wallet key (signs the handshake and settlements). */
  readonly key: Uint8Array;
  /** Chain id and PaymentChannels address. */
  readonly domain: ChannelDomain;
  /** The channel store's directory (level). */
  readonly storeDir: string;
  /** Tunnel drivers by kind (the node deactivates its sessions but does not close drivers). */
  readonly drivers: readonly TunnelDriver[];
  /** Prices and credit per metering mode; modes without a policy are refused. */
  readonly pricing: Partial<Record<MeterMode, PricePolicy>>;
  /** Where channels are looked up (the chain, or memory in tests). */
  readonly channels: ChannelDirectory;
  readonly port?: number;
  readonly host?: string;
  readonly limits?: Partial<ConnectionLimits>;
  /** A verify pool to share (default: one of its own, closed with the node). */
  readonly verifyPool?: VerifyPool;
  readonly verifyThreads?: number;
  /** Milliseconds clock for sessions (default `performance.now`). */
  readonly clock?: () => number;
  /**
   * Turn V8's allocation-site pretenuring off for the whole process (default true); see
   * gc-tuning.ts. Pass false when the process hosts work that keeps what it allocates.
   */
  readonly disablePretenuring?: boolean;
  /** Bounds of the proof pipeline's queues and batches, the invalid-proof threshold. */
  readonly proofPipeline?: Partial<ProofPipelineLimits>;
  /** Admission limits (new OPENs past them get BUSY); false admits every OPEN. */
  readonly admission?: Partial<AdmissionLimits> | false;
}

/** A session's outcome, emitted as `session-closed`. */
export interface SessionClosedEvent {
  readonly sessionId: string;
  readonly channelId: ChannelId;
  readonly requester: Address;
  readonly code: RelayErrorCode;
  /** What the session billed, the debt it opened with (`carried`) included. */
  readonly owed: bigint;
  readonly paid: bigint;
  /** The channel's balance when the session opened: a debt it billed again, or (< 0) a credit. */
  readonly carried: bigint;
  /**
   * The channel's billed mark after the session: the cumulative transferred amount that pays
   * for everything billed on it so far (a debt is what it exceeds the durable amount by).
   */
  readonly billed: bigint;
  readonly creditLimit: bigint;
  /** Largest `owed − paid` while the tunnel was up. */
  readonly maxUnpaid: bigint;
  readonly exhaustedAt: number | null;
  readonly closedAt: number;
}

/** Counters of a node. */
export interface ProviderStats {
  readonly connections: number;
  readonly sessions: number;
  readonly channels: number;
  /** PAY frames received. */
  readonly proofsReceived: number;
  /** Proofs that became durable and were ACKed (superseded ones counted with their winner). */
  readonly proofsAccepted: number;
  readonly proofsRejected: number;
  /** Signatures actually verified. */
  readonly signaturesVerified: number;
  readonly acksSent: number;
  readonly errorsSent: number;
  /** ERROR frames sent, by code. */
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** Proof queue lengths and what was done against floods. */
  readonly pipeline: PipelineStats;
  /** Headroom as admission sees it (null: admission off). */
  readonly admission: AdmissionStats | null;
}

/** A running provider node. */
export interface ProviderNode {
  readonly address: Address;
  readonly port: number;
  readonly url: string;
  stats(): ProviderStats;
  /** A session's state (for monitoring and tests). */
  session(sessionId: string): ProviderSessionState | undefined;
  /** The durable view of a channel. */
  channel(channelId: ChannelId): ChannelState | undefined;
  /** The durable view of a channel, from memory or else from the store (for the watcher). */
  loadChannel(channelId: ChannelId): Promise<ChannelState | undefined>;
  /** Ends a session now (the tunnel goes down, the channel stays). */
  closeSession(sessionId: string, reason?: string): void;
  on(event: "session-closed", fn: (e: SessionClosedEvent) => void): this;
  on(event: "session-ready", fn: (e: { sessionId: string; channelId: ChannelId }) => void): this;
  /** Effects for the chain (`ChainSendCooperativeClose`, …) for the engine to carry out. */
  on(event: "chain", fn: (effect: ChannelEffect) => void): this;
  on(event: "error", fn: (err: unknown) => void): this;
  /** Closes sessions (SHUTTING_DOWN), sockets, the store and its own verify pool. */
  close(): Promise<void>;
}

interface ChannelEntry {
  state: ChannelState;
  durableNonce: bigint;
  durableTransferred: bigint;
  /** The channel's billed mark (see debt-ledger.ts): the debt is what it exceeds durable by. */
  billedTo: bigint;
  owner: Conn | null;
  session: SessionEntry | null;
}

interface SessionEntry {
  state: ProviderSessionState;
  readonly channel: ChannelEntry;
  readonly requester: Address;
  readonly driver: TunnelDriver;
  readonly kind: TunnelKind;
  readonly params: Readonly<Record<string, string | number>>;
  config: TunnelConfig | null;
  timer: NodeJS.Timeout | null;
  timerAt: number | null;
  ticking: boolean;
  /** The lease end last handed to the driver (session clock). */
  leaseEnd: number | null;
  /** Closed without telling the requester (replaced by its own new OPEN). */
  silent: boolean;
}

interface Conn {
  readonly ws: WebSocket;
  readonly nonce: Buffer;
  authed: Address | null;
  authTimer: NodeJS.Timeout | null;
  readonly bucket: TokenBucket;
  lastRateError: number;
  busy: boolean;
  readonly queue: Frame[];
  readonly channels: Set<ChannelEntry>;
  closed: boolean;
  /** Its place among the node's sockets (connection-guard.ts). */
  readonly slot: Slot<SocketHandle>;
  /** OPENs that may cost a channel lookup. */
  readonly opens: TokenBucket;
  framesBeforeAuth: number;
  idleTimer: NodeJS.Timeout | null;
}

const DEFAULT_LIMITS: ConnectionLimits = {
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

/**
 * Starts a provider node: opens the store and the verify pool, then listens.
 * @throws ChannelError STORE_* when the store cannot open; RelayError when the port is taken.
 * @example
 * const node = await createProviderNode({
 *   key, domain: chain.domain, storeDir: ".tollway/provider", drivers: [await createProxyDriver()],
 *   pricing: { second: { unitPrice: 10n, creditLimit: 20n } }, channels: chainDirectory(chain),
 *   port: 7400,
 * });
 * node.on("session-closed", (e) => console.log(e.code, e.paid));
 */
export async function createProviderNode(opts: ProviderNodeOptions): Promise<ProviderNode> {
  if (opts.disablePretenuring !== false) disablePretenuring();
  const store = await ChannelStore.open(opts.storeDir);
  // Failed background writes of the ledger go to the node's `error` event once it exists.
  let reportLedger: (err: unknown) => void = () => undefined;
  let ledger: DebtLedger;
  let pool: VerifyPool;
  try {
    ledger = await DebtLedger.open(opts.storeDir, (err) => reportLedger(err));
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    pool =
      opts.verifyPool ??
      (await VerifyPool.create(
        opts.verifyThreads === undefined ? {} : { threads: opts.verifyThreads },
      ));
  } catch (err) {
    await ledger.close();
    await store.close();
    throw err;
  }
  let capacityPerSec = 0;
  try {
    if (opts.admission !== false) {
      capacityPerSec = await measureVerifyRate(pool, createSigner(opts.key), opts.domain);
    }
  } catch (err) {
    await ledger.close();
    await store.close();
    if (opts.verifyPool === undefined) await pool.close();
    throw err;
  }
  const node = new Node(opts, store, pool, opts.verifyPool === undefined, ledger, capacityPerSec);
  reportLedger = (err) => node.emit("error", err);
  try {
    await node.listen();
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}

class Node extends EventEmitter implements ProviderNode {
  readonly address: Address;
  readonly #opts: ProviderNodeOptions;
  readonly #limits: ConnectionLimits;
  readonly #signer: ProofSigner;
  readonly #verifier = new ProofVerifier();
  readonly #store: ChannelStore;
  readonly #ledger: DebtLedger;
  readonly #pool: VerifyPool;
  readonly #ownPool: boolean;
  readonly #clock: () => number;
  readonly #drivers = new Map<TunnelKind, TunnelDriver>();
  readonly #channels = new Map<ChannelId, ChannelEntry>();
  readonly #sessions = new Map<string, SessionEntry>();
  readonly #conns = new Set<Conn>();
  readonly #opening = new Set<ChannelId>();
  #server: GuardedServer | null = null;
  #port = 0;
  readonly #pipeline: ProofPipeline<Conn, ChannelEntry>;
  readonly #admission: AdmissionControl | null;
  #closing = false;
  readonly #errorsByCode: Record<string, number> = {};
  readonly #stats = {
    acksSent: 0,
    errorsSent: 0,
  };

  constructor(
    opts: ProviderNodeOptions,
    store: ChannelStore,
    pool: VerifyPool,
    ownPool: boolean,
    ledger: DebtLedger,
    capacityPerSec: number,
  ) {
    super();
    this.#ledger = ledger;
    this.#limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.#signer = createSigner(opts.key);
    this.address = this.#signer.address;
    this.#store = store;
    this.#pool = pool;
    this.#ownPool = ownPool;
    this.#clock = opts.clock ?? (() => performance.now());
    // Every lookup goes through the negative cache and the concurrency cap.
    this.#opts = { ...opts, channels: cachedDirectory(opts.channels, this.#limits, this.#clock) };
    for (const d of opts.drivers) this.#drivers.set(d.kind, d);
    this.#pipeline = new ProofPipeline<Conn, ChannelEntry>(
      {
        domain: opts.domain,
        pool,
        store,
        channelOf: (conn, channelId) => {
          const entry = this.#channels.get(channelId);
          return entry !== undefined && entry.owner === conn ? entry : undefined;
        },
        ctx: () => this.#ctx(),
        error: (conn, code, message, ref) => this.#error(conn, code, message, ref),
        acknowledge: (entry, nonce, transferred) => {
          const s = entry.session;
          if (s !== null) this.#runSession(s, { type: "ReceivePayment", nonce, transferred });
          else this.#sendAck(entry);
        },
        disconnect: (conn, code, reason) => this.#drop(conn, closeCodeOf(code), reason),
        fail: (err) => this.emit("error", err),
      },
      { ...DEFAULT_PIPELINE_LIMITS, ...opts.proofPipeline },
      capacityPerSec,
    );
    const pipeline = this.#pipeline;
    this.#admission =
      opts.admission === false
        ? null
        : new AdmissionControl(
            { ...DEFAULT_ADMISSION, ...opts.admission },
            (now) => pipeline.meter.reading(now),
            () => pipeline.queued(),
          );
    // An unhandled "error" event would throw; the node reports, it never crashes.
    this.on("error", () => undefined);
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `ws://${this.#opts.host ?? "127.0.0.1"}:${this.#port}`;
  }

  async listen(): Promise<void> {
    this.#server = await GuardedServer.listen(
      {
        host: this.#opts.host ?? "127.0.0.1",
        port: this.#opts.port ?? 0,
        maxPayloadBytes: this.#limits.maxPayloadBytes,
        upgradeTimeoutMs: this.#limits.upgradeTimeoutMs,
        admission: this.#limits,
      },
      (ws, slot) => this.#accept(ws, slot),
      (err) => this.emit("error", err),
    );
    this.#port = this.#server.port;
  }

  stats(): ProviderStats {
    let sessions = 0;
    for (const s of this.#sessions.values()) if (s.state.phase !== "closed") sessions++;
    return {
      ...this.#pipeline.counters(),
      ...this.#stats,
      errorsByCode: { ...this.#errorsByCode },
      pipeline: this.#pipeline.stats(),
      admission: this.#admission?.stats(performance.now()) ?? null,
      connections: this.#conns.size,
      sessions,
      channels: this.#channels.size,
    };
  }

  session(sessionId: string): ProviderSessionState | undefined {
    return this.#sessions.get(sessionId)?.state;
  }

  channel(channelId: ChannelId): ChannelState | undefined {
    return this.#channels.get(channelId)?.state;
  }

  async loadChannel(channelId: ChannelId): Promise<ChannelState | undefined> {
    return this.#channels.get(channelId)?.state ?? (await this.#store.loadChannel(channelId));
  }

  closeSession(sessionId: string, reason = "closed by the provider"): void {
    const s = this.#sessions.get(sessionId);
    if (s !== undefined)
      this.#runSession(s, { type: "ActionClose", code: "CLOSED_LOCALLY", reason });
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const s of [...this.#sessions.values()]) {
      this.#runSession(s, { type: "ActionClose", code: "SHUTTING_DOWN", reason: "provider stops" });
    }
    for (const c of this.#conns) this.#drop(c, CloseCode.GOING_AWAY, "provider stops");
    await this.#server?.close();
    await this.#pipeline.settled().catch(() => undefined);
    await this.#store.close();
    await this.#ledger.close();
    if (this.#ownPool) await this.#pool.close();
  }

  // ---- connections -------------------------------------------------------------------------

  #accept(ws: WebSocket, slot: Slot<SocketHandle>): void {
    if (this.#closing) {
      ws.close(CloseCode.GOING_AWAY, "provider stops");
      return;
    }
    const now = this.#clock();
    const conn: Conn = {
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
      this.#error(conn, "CONNECTION_LIMIT", reason);
      this.#drop(conn, CloseCode.TRY_AGAIN_LATER, "CONNECTION_LIMIT");
    };
    this.#conns.add(conn);
    conn.authTimer = setTimeout(
      () => this.#drop(conn, CloseCode.AUTH_TIMEOUT, "AUTH_TIMEOUT"),
      this.#limits.authTimeoutMs,
    );
    ws.on("message", (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on("error", () => ws.terminate());
    ws.on("close", () => this.#onClose(conn));
    this.#send(conn, {
      type: "HELLO",
      version: PROTOCOL_VERSION,
      chainId: this.#opts.domain.chainId,
      contract: this.#opts.domain.verifyingContract.toLowerCase() as Address,
      provider: this.address,
      nonce: conn.nonce,
    });
  }

  #onClose(conn: Conn): void {
    conn.closed = true;
    if (conn.authTimer !== null) clearTimeout(conn.authTimer);
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    this.#server?.guard.release(conn.slot);
    this.#conns.delete(conn);
    // Sessions outlive their socket: the requester may come back and resume; if it does not,
    // the credit window runs out and the session is torn down like any unpaid one.
    for (const entry of conn.channels) if (entry.owner === conn) entry.owner = null;
    conn.channels.clear();
  }

  #drop(conn: Conn, code: number, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.ws.close(code, reason);
    // A peer that does not complete the closing handshake is cut off.
    setTimeout(() => conn.ws.terminate(), 1_000).unref();
  }

  #send(conn: Conn | null, frame: Frame): void {
    if (conn === null || conn.closed || conn.ws.readyState !== WebSocket.OPEN) return;
    // A peer that stops reading does not get to pile up our memory.
    if (conn.ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      conn.ws.terminate();
      return;
    }
    conn.ws.send(encodeFrame(frame));
  }

  #error(conn: Conn | null, code: RelayErrorCode, message: string, ref: string | null = null) {
    this.#stats.errorsSent++;
    this.#errorsByCode[code] = (this.#errorsByCode[code] ?? 0) + 1;
    this.#send(conn, { type: "ERROR", code, message, ref });
  }

  /**
   * Everything a peer sends enters here, inside one guard: a frame that cannot be read gets an
   * ERROR and closes the socket (sessions outlive it: the requester reconnects and resumes), and
   * a fault of ours while handling one is reported and closes only this socket, never the node.
   */
  #onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    try {
      this.#receive(conn, data, isBinary);
    } catch (err) {
      this.emit("error", err);
      this.#error(conn, "INTERNAL", "internal error");
      this.#drop(conn, CloseCode.INTERNAL_ERROR, "INTERNAL");
    }
  }

  /** Closes a socket that sent what cannot be a frame, with an ERROR that says why first. */
  #refuse(conn: Conn, code: RelayErrorCode, reason: string): void {
    this.#error(conn, code, reason);
    this.#drop(conn, closeCodeOf(code), code);
  }

  #receive(conn: Conn, data: RawData, isBinary: boolean): void {
    const now = this.#clock();
    if (!conn.bucket.take(now)) {
      // Report a flood once in a while, not once per dropped frame.
      if (now - conn.lastRateError > 250) {
        conn.lastRateError = now;
        this.#error(conn, "RATE_LIMITED", "too many frames; some were dropped");
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
        this.#error(conn, "FRAME_UNEXPECTED", "authenticate first");
        return;
      }
      this.#onAuth(conn, frame);
      return;
    }
    if (conn.busy) {
      if (conn.queue.length >= this.#limits.maxQueued) {
        this.#error(conn, "RATE_LIMITED", "too many frames behind an OPEN");
        return;
      }
      conn.queue.push(frame);
      return;
    }
    this.#dispatch(conn, frame);
  }

  #dispatch(conn: Conn, frame: Frame): void {
    switch (frame.type) {
      case "PAY":
        this.#pipeline.onPay(conn, frame);
        return;
      case "OPEN":
        this.#serially(conn, () => this.#onOpen(conn, frame));
        return;
      case "CLOSE": {
        const s = this.#sessions.get(frame.sessionId);
        if (s === undefined || s.channel.owner !== conn) {
          this.#error(conn, "SESSION_UNKNOWN", "no such session", frame.sessionId);
          return;
        }
        this.#runSession(s, { type: "ReceiveClose", reason: frame.reason });
        return;
      }
      case "SETTLE_PROPOSE":
        this.#serially(conn, () => this.#onSettlePropose(conn, frame));
        return;
      case "QUOTE":
        this.#onQuote(conn, frame);
        return;
      case "ERROR":
        // The requester refused something we sent; nothing to do but not to answer it.
        return;
      default:
        this.#error(conn, "FRAME_UNEXPECTED", `${frame.type} is not accepted from a requester`);
    }
  }

  /** Runs an async handler with the connection's later frames held back until it is done. */
  #serially(conn: Conn, fn: () => Promise<void>): void {
    conn.busy = true;
    fn()
      .catch((err) => {
        this.emit("error", err);
        this.#error(conn, "INTERNAL", "internal error");
      })
      .finally(() => {
        conn.busy = false;
        while (!conn.busy && conn.queue.length > 0 && !conn.closed) {
          this.#dispatch(conn, conn.queue.shift()!);
        }
      });
  }

  #onAuth(conn: Conn, frame: Frame & { type: "AUTH" }): void {
    const digest = handshakeDigest(
      "requester",
      this.#opts.domain,
      this.address,
      frame.requester,
      conn.nonce,
      frame.nonce,
    );
    const check = this.#verifier.checkDigest(digest, frame.signature, frame.requester);
    if (!check.ok) {
      this.#error(conn, "AUTH_FAILED", "signature does not match the address");
      this.#drop(conn, CloseCode.AUTH_FAILED, "AUTH_FAILED");
      return;
    }
    const admitted = this.#server!.guard.authenticate(conn.slot, () =>
      this.#hasChannelOf(check.signer),
    );
    if (!admitted.ok) {
      this.#refuse(conn, admitted.code, admitted.reason);
      return;
    }
    conn.authed = check.signer;
    if (conn.authTimer !== null) clearTimeout(conn.authTimer);
    conn.authTimer = null;
    this.#armIdle(conn);
    const back = handshakeDigest(
      "provider",
      this.#opts.domain,
      this.address,
      check.signer,
      conn.nonce,
      frame.nonce,
    );
    this.#send(conn, { type: "AUTH_OK", signature: this.#signer.signDigest(back) });
  }

  /** Drops the connection at the idle deadline unless it holds a channel by then. */
  #armIdle(conn: Conn): void {
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      conn.idleTimer = null;
      if (conn.channels.size === 0) {
        this.#refuse(conn, "IDLE_TIMEOUT", "no channel opened on this connection in time");
      }
    }, this.#limits.idleTimeoutMs);
  }

  #onOwning(conn: Conn, owning: boolean): void {
    if (conn.closed) return;
    if (owning) {
      this.#server?.guard.promote(conn.slot);
      return;
    }
    this.#server?.guard.demote(conn.slot);
    this.#armIdle(conn);
  }

  /** Whether `requester` has a channel on this node (asked only when the node is nearly full). */
  #hasChannelOf(requester: Address): boolean {
    const a = requester.toLowerCase();
    for (const entry of this.#channels.values()) {
      if (entry.state.params.participantA.toLowerCase() === a) return true;
    }
    return false;
  }

  // ---- sessions ----------------------------------------------------------------------------

  /** The terms an OPEN with these parameters would get, or why it would be refused. */
  #onQuote(conn: Conn, frame: QuoteFrame): void {
    const ref = frame.quoteId;
    const offer = this.#offer(conn, frame.mode, frame.tunnelKind, ref);
    if (offer === null) return;
    const refusal = offer.driver.check?.(frame.tunnelParams) ?? null;
    if (refusal !== null) {
      this.#error(conn, refusal.code, refusal.reason, ref);
      return;
    }
    const terms = sessionTerms(frame.mode, offer.policy.unitPrice, offer.policy);
    this.#send(conn, {
      type: "QUOTE_OK",
      quoteId: ref,
      unitPrice: terms.unitPrice,
      creditLimit: terms.creditLimit,
      graceMs: terms.graceMs,
      tickMs: terms.tickMs,
      activateOnCredit: terms.activateOnCredit ?? false,
    });
  }

  /**
   * The price policy and driver a QUOTE or OPEN asks for, or null once an ERROR with `ref` has
   * said why not (no such mode, a unit price below the policy's, no such tunnel kind).
   */
  #offer(
    conn: Conn,
    mode: MeterMode,
    kind: TunnelKind,
    ref: string,
    unitPrice?: bigint,
  ): { policy: PricePolicy; driver: TunnelDriver } | null {
    const policy = this.#opts.pricing[mode];
    if (policy === undefined) {
      this.#error(conn, "MODE_UNSUPPORTED", `no ${mode} metering here`, ref);
      return null;
    }
    if (unitPrice !== undefined && unitPrice < policy.unitPrice) {
      this.#error(conn, "PRICE_TOO_LOW", `unit price is at least ${policy.unitPrice}`, ref);
      return null;
    }
    const driver = this.#drivers.get(kind);
    if (driver === undefined) {
      this.#error(conn, "TUNNEL_UNAVAILABLE", `no ${kind} tunnels here`, ref);
      return null;
    }
    return { policy, driver };
  }

  async #onOpen(conn: Conn, frame: OpenFrame): Promise<void> {
    // A new session may cost a chain lookup; a resume costs none and is never held back.
    if (frame.resume === null && !conn.opens.take(this.#clock())) {
      this.#error(conn, "RATE_LIMITED", "too many OPENs; try again shortly", frame.channelId);
      return;
    }
    const requester = conn.authed!;
    const ref = frame.channelId;
    if (frame.resume !== null) {
      const s = this.#sessions.get(frame.resume);
      if (
        s === undefined ||
        s.state.phase === "closed" ||
        s.requester !== requester ||
        s.state.channelId !== frame.channelId
      ) {
        this.#error(conn, "SESSION_UNKNOWN", "no such session to resume", frame.resume);
        return;
      }
      this.#bind(conn, s.channel);
      if (s.state.phase === "active") this.#sendReady(s);
      else this.#sendAccept(s);
      this.#sendAck(s.channel);
      return;
    }
    if (this.#refuseBusy(conn, ref)) return;
    const offer = this.#offer(conn, frame.mode, frame.tunnelKind, ref, frame.unitPrice);
    if (offer === null) return;
    const { policy, driver } = offer;
    if (this.#opening.has(frame.channelId)) {
      this.#error(conn, "SESSION_BUSY", "the channel is being opened", ref);
      return;
    }
    this.#opening.add(frame.channelId);
    try {
      const entry = await this.#loadChannel(conn, frame, requester);
      if (entry === null) return;
      const old = entry.session;
      if (old !== null && old.state.phase !== "closed") {
        // The channel's own requester opens it again. On the connection that holds a running
        // session that is a mistake; from another one it is the requester back after a restart
        // or a lost socket (its old session never comes back): the new session takes over, and
        // owes what the old one leaves unpaid. A session never paid is replaced on any
        // connection; on its own one without a word, which the requester could take for the
        // new OPEN's refusal.
        if (old.state.phase !== "opening" && entry.owner === conn) {
          this.#error(conn, "SESSION_BUSY", "the channel has a session open", ref);
          return;
        }
        old.silent = old.state.phase === "opening" && entry.owner === conn;
        this.#runSession(old, {
          type: "ActionClose",
          code: "SESSION_REPLACED",
          reason: "the channel was opened again",
        });
      }
      this.#bind(conn, entry);
      const terms = sessionTerms(frame.mode, frame.unitPrice, policy);
      const sessionId = randomBytes(8).toString("hex");
      const session: SessionEntry = {
        state: openProviderSession({
          sessionId,
          channelId: frame.channelId,
          terms,
          base: entry.durableTransferred,
          carried: balanceOf(entry.billedTo, entry.durableTransferred),
          now: this.#clock(),
        }),
        channel: entry,
        requester,
        driver,
        kind: frame.tunnelKind,
        params: frame.tunnelParams,
        config: null,
        timer: null,
        timerAt: null,
        ticking: false,
        leaseEnd: null,
        silent: false,
      };
      entry.session = session;
      this.#sessions.set(sessionId, session);
      this.#sendAccept(session);
      this.#runSession(session, { type: "ActionStart" });
    } finally {
      this.#opening.delete(frame.channelId);
    }
  }

  #bind(conn: Conn, entry: ChannelEntry): void {
    if (entry.owner !== null && entry.owner !== conn) entry.owner.channels.delete(entry);
    entry.owner = conn;
    conn.channels.add(entry);
  }

  /** The channel entry (from memory, the store, or the directory), with fresh deposits. */
  async #loadChannel(
    conn: Conn,
    frame: OpenFrame,
    requester: Address,
  ): Promise<ChannelEntry | null> {
    const found = await this.#opts.channels.lookup({
      channelId: frame.channelId,
      requester,
      provider: this.address,
      salt: frame.salt,
      openBlock: frame.openBlock,
    });
    if (!found.ok) {
      this.#error(conn, found.code, found.reason, frame.channelId);
      return null;
    }
    const info = found.value;
    let entry = this.#channels.get(frame.channelId);
    if (entry === undefined) {
      let state = await this.#store.loadChannel(frame.channelId);
      if (state === undefined) {
        state = createChannel({
          channelId: frame.channelId,
          domain: this.#opts.domain,
          participantA: requester,
          participantB: this.address,
          self: "B",
          settleTimeout: BigInt(info.settleWindow),
        });
      }
      const received = state.received?.proof;
      // A channel never billed here owes nothing and has no credit either.
      const billedTo =
        (await this.#ledger.billedTo(frame.channelId)) ?? received?.transferred ?? 0n;
      entry = {
        state,
        durableNonce: received?.nonce ?? 0n,
        durableTransferred: received?.transferred ?? 0n,
        billedTo,
        owner: null,
        session: null,
      };
      this.#channels.set(frame.channelId, entry);
    }
    if (entry.state.params.participantA !== requester.toLowerCase()) {
      this.#error(conn, "CHANNEL_NOT_PARTICIPANT", "not your channel", frame.channelId);
      return null;
    }
    // Bring the deposits up to date (top-ups happen on chain at any time).
    const before = entry.state;
    const ctx = this.#ctx();
    let s = transition(
      before,
      { type: "ChainChannelOpened", channelId: frame.channelId, depositA: info.depositA },
      ctx,
    ).state;
    for (const [participant, total] of [
      ["A", info.depositA],
      ["B", info.depositB],
    ] as const) {
      s = transition(
        s,
        { type: "ChainDeposited", channelId: frame.channelId, participant, total },
        ctx,
      ).state;
    }
    if (s !== before) {
      entry.state = s;
      await this.#store.persist(before.status === "opening" ? undefined : before, s);
    }
    if (s.status !== "open" || s.settlement !== null) {
      this.#error(conn, "CHANNEL_CLOSED", `channel is ${s.status}`, frame.channelId);
      return null;
    }
    return entry;
  }

  #ctx() {
    return { now: BigInt(Math.floor(Date.now() / 1000)), blockNumber: 0n, signer: this.#signer };
  }

  #sendReady(s: SessionEntry): void {
    const entry = s.channel;
    this.#send(entry.owner, {
      type: "READY",
      channelId: s.state.channelId,
      sessionId: s.state.sessionId,
      tunnel: s.config ?? {},
      creditLimit: s.state.terms.creditLimit,
      tickMs: s.state.terms.tickMs,
      ackedNonce: entry.durableNonce,
      ackedTransferred: entry.durableTransferred,
      base: s.state.base,
    });
  }

  /** ACCEPT: the session waits for its first unit on top of what the channel has been billed. */
  #sendAccept(s: SessionEntry): void {
    const entry = s.channel;
    this.#send(entry.owner, {
      type: "ACCEPT",
      channelId: s.state.channelId,
      sessionId: s.state.sessionId,
      ackedNonce: entry.durableNonce,
      ackedTransferred: entry.durableTransferred,
      billed: billedOf(s.state),
    });
  }

  /** Moves the channel's billed mark up to what a session has billed, and records it. */
  #noteBilled(s: SessionEntry): void {
    const entry = s.channel;
    const billed = billedOf(s.state);
    if (billed <= entry.billedTo) return;
    entry.billedTo = billed;
    this.#ledger.record(s.state.channelId, billed);
  }

  #sendAck(entry: ChannelEntry): void {
    this.#stats.acksSent++;
    const s = entry.session;
    this.#send(entry.owner, {
      type: "ACK",
      channelId: entry.state.params.channelId,
      nonce: entry.durableNonce,
      transferred: entry.durableTransferred,
      owed: s !== null ? owedOf(s.state) : 0n,
    });
  }

  #runSession(s: SessionEntry, input: ProviderSessionInput): void {
    const { state, effects } = providerSessionTransition(s.state, input, { now: this.#clock() });
    s.state = state;
    for (const e of effects) this.#carryOut(s, e);
    this.#schedule(s);
    this.#moveLease(s);
  }

  /** Hands a leasing driver the end of the session's paid time, in wall-clock ms. */
  #moveLease(s: SessionEntry): void {
    if (s.driver.setLease === undefined || s.state.phase !== "active") return;
    const end = leaseEndOf(s.state);
    if (end === s.leaseEnd) return;
    s.leaseEnd = end;
    s.driver.setLease(s.state.sessionId, end === null ? null : Date.now() + (end - this.#clock()));
  }

  #carryOut(s: SessionEntry, e: ProviderSessionEffect): void {
    const conn = s.channel.owner;
    const sessionId = s.state.sessionId;
    switch (e.type) {
      case "SendAck":
        this.#stats.acksSent++;
        this.#send(conn, {
          type: "ACK",
          channelId: s.state.channelId,
          nonce: e.nonce,
          transferred: e.transferred,
          owed: e.owed,
        });
        return;
      case "SendReady":
        s.config = e.config;
        this.#sendReady(s);
        this.emit("session-ready", { sessionId, channelId: s.state.channelId });
        return;
      case "SendUsage":
        this.#noteBilled(s);
        this.#send(conn, { type: "USAGE", sessionId, units: e.units, owed: e.owed });
        return;
      case "SendWarn":
        this.#send(conn, {
          type: "WARN",
          sessionId,
          teardownInMs: e.teardownInMs,
          unpaid: e.unpaid,
        });
        return;
      case "SendClose":
        if (s.silent) return;
        // Before READY the requester does not know the session id: it hears of its OPEN.
        if (s.config === null) this.#error(conn, e.code, e.reason, s.state.channelId);
        else this.#send(conn, { type: "CLOSE", sessionId, code: e.code, reason: e.reason });
        return;
      case "NotifyActivateTunnel":
        s.driver.activate({ sessionId, kind: s.kind, params: s.params }).then(
          (config) => this.#runSession(s, { type: "ActionTunnelUp", config }),
          (err: unknown) =>
            this.#runSession(s, {
              type: "ActionTunnelFailed",
              reason: shortMessageOf(err),
            }),
        );
        return;
      case "NotifyDeactivateTunnel":
        s.driver.deactivate(sessionId).then(
          () => {
            // The requester closed: tell it once its tunnel is really down (a fast-lane path
            // tears down hop by hop on this answer).
            if (s.state.closeCode === "CLOSED_BY_PEER") {
              this.#send(s.channel.owner, {
                type: "CLOSE",
                sessionId,
                code: "CLOSED_BY_PEER",
                reason: "tunnel down",
              });
            }
          },
          (err: unknown) => this.emit("error", err),
        );
        return;
      case "NotifyTunnelLimits": {
        if (!isMetered(s.driver)) return;
        const max = e.maxUnits === null ? null : Number(e.maxUnits);
        s.driver.setLimits(sessionId, {
          admit: e.admit,
          maxBytes: s.state.terms.mode === "byte" ? max : null,
          maxPackets: s.state.terms.mode === "packet" ? max : null,
        });
        return;
      }
      case "NotifySessionClosed": {
        this.#noteBilled(s);
        if (s.timer !== null) clearTimeout(s.timer);
        s.timer = null;
        this.#sessions.delete(sessionId);
        if (s.channel.session === s) s.channel.session = null;
        const event: SessionClosedEvent = {
          sessionId,
          channelId: s.state.channelId,
          requester: s.requester,
          code: e.code,
          owed: e.owed,
          paid: e.paid,
          carried: s.state.carried,
          billed: billedOf(s.state),
          creditLimit: s.state.terms.creditLimit,
          maxUnpaid: e.maxUnpaid,
          exhaustedAt: e.exhaustedAt,
          closedAt: e.closedAt,
        };
        this.emit("session-closed", event);
        return;
      }
    }
  }

  #schedule(s: SessionEntry): void {
    const at = wakeAt(s.state);
    if (at === s.timerAt) return;
    // Every payment moves the wake time later; re-arming the timer thousands of times a second
    // would only churn timers. One due earlier stays armed, and #tick re-arms it when it comes.
    if (at !== null && s.timer !== null && s.timerAt !== null && s.timerAt < at) return;
    if (s.timer !== null) clearTimeout(s.timer);
    s.timer = null;
    s.timerAt = at;
    if (at === null || this.#closing) return;
    s.timer = setTimeout(() => this.#tick(s), Math.max(0, at - this.#clock()));
  }

  #tick(s: SessionEntry): void {
    s.timer = null;
    s.timerAt = null;
    if (s.state.phase === "closed" || s.ticking) return;
    // Armed for a wake time that payments have since moved: sleep on (timers may fire up to a
    // millisecond early, which the session's transition takes in its stride).
    const at = wakeAt(s.state);
    if (at !== null && at - this.#clock() > 1) {
      this.#schedule(s);
      return;
    }
    if (s.state.terms.mode === "second" || s.state.phase !== "active") {
      this.#runSession(s, { type: "ActionTick", usage: null });
      return;
    }
    s.ticking = true;
    s.driver.readUsage(s.state.sessionId).then(
      (usage) => {
        s.ticking = false;
        this.#runSession(s, { type: "ActionTick", usage });
      },
      (err: unknown) => {
        s.ticking = false;
        this.emit("error", err);
        this.#runSession(s, { type: "ActionTick", usage: null });
      },
    );
  }

  /** A new session past the node's headroom: ERROR BUSY with a retry hint; true if refused. */
  #refuseBusy(conn: Conn, ref: string): boolean {
    const d = this.#admission?.check(performance.now());
    if (d === undefined || d.admit) return false;
    this.#error(conn, "BUSY", busyMessage(d.retryAfterMs, d.reason), ref);
    return true;
  }

  // ---- cooperative close -------------------------------------------------------------------

  async #onSettlePropose(conn: Conn, frame: SettleProposeFrame): Promise<void> {
    const entry = this.#channels.get(frame.channelId);
    if (entry === undefined || entry.owner !== conn) {
      this.#error(conn, "CHANNEL_UNKNOWN", "no such channel on this connection", frame.channelId);
      return;
    }
    // Payments are frozen once we sign: let every proof in flight land first.
    await this.#pipeline.settled();
    await this.#store.flush();
    const settlement = {
      channelId: frame.channelId,
      payoutA: frame.payoutA,
      payoutB: frame.payoutB,
    };
    const check = this.#verifier.verifySettlement(
      this.#opts.domain,
      settlement,
      frame.signature,
      entry.state.params.participantA,
    );
    const before = entry.state;
    const { state, effects } = transition(
      before,
      {
        type: "ReceiveSettlementProposal",
        settlement,
        signature: frame.signature,
        domain: this.#opts.domain,
        check,
      },
      this.#ctx(),
    );
    for (const e of effects) {
      if (e.type === "InvalidReceivedSettlement" || e.type === "NotifyActionRejected") {
        this.#error(conn, e.code, e.reason, frame.channelId);
        return;
      }
    }
    if (entry.session !== null) {
      this.#runSession(entry.session, {
        type: "ActionClose",
        code: "CLOSED_LOCALLY",
        reason: "the channel is settling",
      });
    }
    entry.state = state;
    // Durable before we hand out our signature: after a crash we must know we signed.
    await this.#store.persist(before, state);
    for (const e of effects) {
      if (e.type === "SendSettlementSignature") {
        this.#send(conn, {
          type: "SETTLE_SIGN",
          channelId: e.channelId,
          payoutA: e.settlement.payoutA,
          payoutB: e.settlement.payoutB,
          signature: e.signature,
        });
      } else if (e.type.startsWith("Chain")) {
        this.emit("chain", e);
      }
    }
  }
}

/** A session's terms under `policy`, its defaults filled in. */
function sessionTerms(mode: MeterMode, unitPrice: bigint, policy: PricePolicy): SessionTerms {
  return {
    mode,
    unitPrice,
    creditLimit: policy.creditLimit,
    graceMs: policy.graceMs ?? 1_000,
    tickMs: policy.tickMs ?? 1_000,
    pollMs: policy.pollMs ?? 100,
    marginMs: policy.marginMs ?? 100,
    openTimeoutMs: policy.openTimeoutMs ?? 10_000,
    activateOnCredit: policy.activateOnCredit ?? false,
  };
}
