/**
 * The provider node: the imperative shell around the channel and session cores, in parts that
 * this file only wires together and starts and stops:
 * - connection.ts: the listening socket, the handshake, per-connection limits, frame routing;
 * - channel-loader.ts: the channel table, loaded from the store or the settlement backend, deposits;
 * - session-runner.ts: QUOTE, OPEN and the sessions (timers, tunnels, credit, WARN, teardown);
 * - proof-pipeline.ts: PAY → verify → transition → store → ACK (the hot path);
 * - cooperative-close.ts: SETTLE_PROPOSE → SETTLE_SIGN.
 */
import { EventEmitter } from "node:events";
import type { Server } from "node:http";
import {
  type Address,
  type ChannelEffect,
  type ChannelId,
  type ChannelState,
  ChannelStore,
  createSigner,
  ProofVerifier,
  type SettlementBackend,
  type TransitionContext,
  VerifyPool,
} from "../../channels/index.ts";
import type { ProviderSessionState } from "../session/provider-session.ts";
import type { TunnelDriver } from "../tunnel/driver.ts";
import type { MeterMode } from "../wire/frames.ts";
import {
  AdmissionControl,
  type AdmissionLimits,
  type AdmissionStats,
  DEFAULT_ADMISSION,
} from "./admission.ts";
import { type ChannelEntry, ChannelLoader } from "./channel-loader.ts";
import {
  type Connection,
  type ConnectionLimits,
  Connections,
  DEFAULT_CONNECTION_LIMITS,
} from "./connection.ts";
import { CooperativeClose } from "./cooperative-close.ts";
import { DebtLedger } from "./debt-ledger.ts";
import { disablePretenuring } from "./gc-tuning.ts";
import { measureVerifyRate } from "./load-meter.ts";
import {
  DEFAULT_PIPELINE_LIMITS,
  type PipelineStats,
  ProofPipeline,
  type ProofPipelineLimits,
} from "./proof-pipeline.ts";
import { type PricePolicy, type SessionClosedEvent, SessionRunner } from "./session-runner.ts";

/** Options of `createProviderNode`. */
export interface ProviderNodeOptions {
  /** The provider's 32-byte wallet key (signs the handshake and settlements). */
  readonly key: Uint8Array;
  /** The channel store's directory (level). */
  readonly storeDir: string;
  /** Tunnel drivers by kind (the node deactivates its sessions but does not close drivers). */
  readonly drivers: readonly TunnelDriver[];
  /** Prices and credit per metering mode; modes without a policy are refused. */
  readonly pricing: Partial<Record<MeterMode, PricePolicy>>;
  /**
   * The chain, through the settlement interface: its domain is the chain and contract HELLO names
   * and proofs are signed for, and the references OPEN frames carry are resolved through it to
   * their channels and deposits (PaymentChannels, or the in-memory chain in tests).
   */
  readonly settlement: Pick<SettlementBackend, "domain" | "resolve">;
  /** Port of the node's own HTTP server (default: any free one); ignored with `server`. */
  readonly port?: number;
  /** Host it listens on, and the host of `url` (default 127.0.0.1). */
  readonly host?: string;
  /**
   * An HTTP server of the caller's to serve the WebSocket on, beside its own routes (metrics, a
   * dashboard): the node takes its upgrades and leaves its requests alone; the caller listens
   * and closes it. Without it the node listens on an HTTP server of its own, which answers
   * plain requests with 426 and admits sockets before a byte of them is read.
   */
  readonly server?: Server;
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
  /** The port the WebSocket is served on (the caller's server's, with `server`). */
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
  /**
   * Closes sessions (SHUTTING_DOWN), sockets, the store and its own verify pool; a caller's
   * `server` keeps running without the node's WebSocket.
   */
  close(): Promise<void>;
}

/** What the node opens before it wires its parts: closed again if a later step fails. */
interface Resources {
  readonly store: ChannelStore;
  readonly ledger: DebtLedger;
  readonly pool: VerifyPool;
  readonly ownPool: boolean;
  readonly capacityPerSec: number;
}

/**
 * Starts a provider node: opens the store and the verify pool, then listens (or attaches to the
 * caller's `server`).
 * @throws ChannelError STORE_* when the store cannot open; the listen error (EADDRINUSE, …) when
 *   the port is taken.
 * @example
 * const node = await createProviderNode({
 *   key, settlement, storeDir: ".tollway/provider", drivers: [await createProxyDriver()],
 *   pricing: { second: { unitPrice: 10n, creditLimit: 20n } }, port: 7400,
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
      capacityPerSec = await measureVerifyRate(
        pool,
        createSigner(opts.key),
        opts.settlement.domain,
      );
    }
  } catch (err) {
    await ledger.close();
    await store.close();
    if (opts.verifyPool === undefined) await pool.close();
    throw err;
  }
  const ownPool = opts.verifyPool === undefined;
  const node = new Node(opts, { store, ledger, pool, ownPool, capacityPerSec });
  reportLedger = (err) => node.emit("error", err);
  try {
    await node.serve();
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}

class Node extends EventEmitter implements ProviderNode {
  readonly address: Address;
  readonly #opts: ProviderNodeOptions;
  readonly #res: Resources;
  readonly #connections: Connections;
  readonly #channels: ChannelLoader;
  readonly #sessions: SessionRunner;
  readonly #pipeline: ProofPipeline<Connection, ChannelEntry>;
  readonly #settlement: CooperativeClose;
  readonly #admission: AdmissionControl | null;
  #closing = false;

  constructor(opts: ProviderNodeOptions, res: Resources) {
    super();
    this.#opts = opts;
    this.#res = res;
    const { store, ledger, pool } = res;
    const { domain } = opts.settlement;
    const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
    const signer = createSigner(opts.key);
    this.address = signer.address;
    const verifier = new ProofVerifier();
    const clock = opts.clock ?? (() => performance.now());
    const ctx = (): TransitionContext => ({
      now: BigInt(Math.floor(Date.now() / 1000)),
      blockNumber: 0n,
      signer,
    });
    const fail = (err: unknown) => this.emit("error", err);

    const channels = new ChannelLoader({
      provider: signer.address,
      domain,
      store,
      ledger,
      settlement: opts.settlement,
      cacheLimits: limits,
      clock,
      ctx,
    });
    const connections = new Connections({
      limits,
      domain,
      signer,
      verifier,
      clock,
      hasChannelOf: (requester) => channels.hasChannelOf(requester),
      fail,
    });
    // Admission reads the pipeline's meter and queue (the pipeline is made below).
    const admission =
      opts.admission === false
        ? null
        : new AdmissionControl(
            { ...DEFAULT_ADMISSION, ...opts.admission },
            (now) => this.#pipeline.meter.reading(now),
            () => this.#pipeline.queued(),
          );
    const sessions = new SessionRunner({
      drivers: opts.drivers,
      pricing: opts.pricing,
      clock,
      channels,
      peers: connections,
      ledger,
      admission,
      events: {
        ready: (e) => this.emit("session-ready", e),
        closed: (e) => this.emit("session-closed", e),
        fail,
      },
    });
    const pipeline = new ProofPipeline<Connection, ChannelEntry>(
      { domain, pool, store, channels, peers: connections, payments: sessions, ctx, fail },
      { ...DEFAULT_PIPELINE_LIMITS, ...opts.proofPipeline },
      res.capacityPerSec,
    );
    this.#settlement = new CooperativeClose({
      domain,
      store,
      verifier,
      channels,
      proofs: pipeline,
      sessions,
      peers: connections,
      ctx,
      chain: (effect) => this.emit("chain", effect),
    });
    this.#channels = channels;
    this.#connections = connections;
    this.#sessions = sessions;
    this.#pipeline = pipeline;
    this.#admission = admission;
    // An unhandled "error" event would throw; the node reports, it never crashes.
    this.on("error", () => undefined);
  }

  get port(): number {
    return this.#connections.port;
  }

  get url(): string {
    return `ws://${this.#opts.host ?? "127.0.0.1"}:${this.port}`;
  }

  /** Starts taking connections, on the caller's server or on one of its own. */
  serve(): Promise<void> {
    const { server, host, port } = this.#opts;
    return this.#connections.serve(
      server !== undefined ? { server } : { host: host ?? "127.0.0.1", port: port ?? 0 },
      { proofs: this.#pipeline, sessions: this.#sessions, settlement: this.#settlement },
    );
  }

  stats(): ProviderStats {
    return {
      ...this.#pipeline.counters(),
      acksSent: this.#sessions.acksSent,
      ...this.#connections.errorStats(),
      pipeline: this.#pipeline.stats(),
      admission: this.#admission?.stats(performance.now()) ?? null,
      connections: this.#connections.size,
      sessions: this.#sessions.activeCount(),
      channels: this.#channels.size,
    };
  }

  session(sessionId: string): ProviderSessionState | undefined {
    return this.#sessions.state(sessionId);
  }

  channel(channelId: ChannelId): ChannelState | undefined {
    return this.#channels.get(channelId)?.state;
  }

  loadChannel(channelId: ChannelId): Promise<ChannelState | undefined> {
    return this.#channels.loadState(channelId);
  }

  closeSession(sessionId: string, reason = "closed by the provider"): void {
    this.#sessions.close(sessionId, "CLOSED_LOCALLY", reason);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#sessions.stop("SHUTTING_DOWN", "provider stops");
    await this.#connections.close();
    await this.#pipeline.settled().catch(() => undefined);
    const { store, ledger, pool, ownPool } = this.#res;
    await store.close();
    await ledger.close();
    if (ownPool) await pool.close();
  }
}
