/**
 * The requester SDK: a small typed client an app embeds. It connects and authenticates, opens
 * sessions on channels it already holds, pays ahead of its own counters (pipelined: it never
 * waits for an ACK before the next proof), checks the provider's usage claims, reconnects and
 * resumes a dropped session from the last ACKed nonce, and negotiates a cooperative close.
 *
 * Restarts on either side (relay/README.md, "Restarts"): nothing is signed before the provider
 * has accepted the session it pays for (the first payment waits for ACCEPT and builds on the
 * amount it names), and nothing is paid while the link is lost. A session the provider no longer
 * knows (it restarted) is opened again on the same channel, from the channel's durable amount; a
 * restarted requester's new OPEN replaces its old session at the provider.
 */
import { EventEmitter } from "node:events";
import {
  type Address,
  type ChannelDomain,
  type ChannelId,
  type ChannelRef,
  type ChannelState,
  type ChannelStore,
  createChannel,
  createSigner,
  type ProofSigner,
  ProofVerifier,
  type Settlement,
  syncDeposits,
  transition,
} from "../../channels/index.ts";
import { RelayError, type RelayErrorCode } from "../errors.ts";
import {
  openRequesterSession,
  type RequesterSessionEffect,
  type RequesterSessionInput,
  type RequesterSessionState,
  requesterSessionTransition,
  type UsageTolerance,
} from "../session/requester-session.ts";
import type { TunnelConfig, TunnelKind } from "../tunnel/driver.ts";
import type { Frame, MeterMode } from "../wire/frames.ts";
import { openWireConnection, type WireConnection } from "./wire-connection.ts";

/** Options of `connect`. */
export interface RequesterOptions {
  /** The requester's 32-byte wallet key (participant A of its channels). */
  readonly key: Uint8Array;
  /** The provider's WebSocket URL. */
  readonly url: string;
  /** When given, the provider must be on this chain and contract. */
  readonly domain?: ChannelDomain;
  /** When given, the provider must be this address. */
  readonly provider?: Address;
  /**
   * Reconnect attempts after a drop (default 8) and the delay before the first (default 200 ms),
   * doubled after each failed attempt up to `maxDelayMs` (default 2,000 ms): about 11 s in all
   * by default, enough for a provider node to restart.
   */
  readonly reconnect?: {
    readonly attempts: number;
    readonly delayMs: number;
    readonly maxDelayMs?: number;
  };
  /** Milliseconds clock (default `performance.now`). */
  readonly clock?: () => number;
  /**
   * Where the client keeps its channels (default: memory only). With a store every proof is
   * durable before it is sent, so a client restarted on the same store continues its channels
   * from the nonce it had reached; without one a restarted client cannot pay on them again.
   * The caller opens and closes it; one store can serve the clients of several providers.
   */
  readonly store?: ChannelStore;
}

/**
 * A channel as a session pays on it: what `openChannel`, `topUpChannel` and `readChannel`
 * (channel-funds.ts) return.
 */
export interface SessionChannel {
  readonly channelId: ChannelId;
  /** What OPEN carries for the provider to find the channel (its settlement backend's reference). */
  readonly ref: ChannelRef;
  /** The requester's deposit (A) and the provider's (B, usually 0). */
  readonly depositA: bigint;
  readonly depositB?: bigint;
}

/** Options of `openSession`. */
export interface OpenSessionOptions {
  readonly channel: SessionChannel;
  readonly dealId?: string;
  readonly mode: MeterMode;
  readonly unitPrice: bigint;
  readonly tunnel: { readonly kind: TunnelKind; readonly params?: Record<string, string | number> };
  /** Units paid ahead (default 1). */
  readonly prepayUnits?: bigint;
  /** Tolerance for usage claims (default 5 % + 1 unit in second mode, 5 % + 4 KiB otherwise). */
  readonly tolerance?: UsageTolerance;
  /** Own counter of units consumed (byte/packet modes), read before every payment. */
  readonly meter?: () => bigint | number;
  /** How often to meter and pay, ms (default 1,000 in second mode, 100 otherwise). */
  readonly payEveryMs?: number;
  /** READY deadline, ms (default 15,000). */
  readonly timeoutMs?: number;
  /**
   * The most this session pays for what the channel's earlier sessions left unpaid, as the
   * provider's ACCEPT names it (default: no limit; a provider bills at most one credit window of
   * debt). An ACCEPT asking for more ends the open with DEBT_TOO_HIGH, nothing signed.
   */
  readonly maxDebt?: bigint;
  /**
   * Open without paying; nothing is paid until `resumePaying()`. Only a provider that activates
   * on credit (its QUOTE says so) opens such a session: a fast-lane hop, paid once the whole
   * path is up.
   */
  readonly startPaused?: boolean;
}

/** Options of `quote`. */
export interface QuoteOptions {
  readonly mode: MeterMode;
  readonly tunnel: { readonly kind: TunnelKind; readonly params?: Record<string, string | number> };
  /** Answer deadline, ms (default 5,000). */
  readonly timeoutMs?: number;
}

/** A provider's terms for a session (QUOTE_OK). */
export interface Quote {
  /** The lowest unit price an OPEN may offer. */
  readonly unitPrice: bigint;
  readonly creditLimit: bigint;
  readonly graceMs: number;
  readonly tickMs: number;
  /** Whether the tunnel opens on credit, before the first unit is paid. */
  readonly activateOnCredit: boolean;
}

/** How a session ended. */
export interface SessionEnd {
  readonly code: RelayErrorCode;
  readonly reason: string;
}

/** A cooperative settlement with both signatures, ready for `ChainSendCooperativeClose`. */
export interface SignedSettlement {
  readonly settlement: Settlement;
  readonly signatureA: Uint8Array;
  readonly signatureB: Uint8Array;
}

/** The link to the provider's session was lost; payments stop until it is back. */
export interface SessionResuming {
  /** CONNECTION_LOST (the socket dropped) or SESSION_UNKNOWN (the provider lost the session). */
  readonly code: RelayErrorCode;
  readonly reason: string;
}

/** The session is paid into again. */
export interface SessionResumed {
  readonly sessionId: string;
  /**
   * True when the provider's session is a new one on the same channel (it had lost the old one):
   * the tunnel was set up anew, so `session.tunnel` holds its new configuration.
   */
  readonly fresh: boolean;
}

/**
 * One payment session. Events: `ack`, `usage`, `warn`, `resuming`, `resumed`, `close`.
 */
export class Session extends EventEmitter<{
  ack: [{ nonce: bigint; transferred: bigint }];
  usage: [{ units: bigint; owed: bigint; own: bigint }];
  warn: [{ teardownInMs: number; unpaid: bigint }];
  resuming: [SessionResuming];
  resumed: [SessionResumed];
  close: [SessionEnd];
}> {
  readonly channelId: ChannelId;
  /** The provider's session id (set at ACCEPT; a new one after a provider restart). */
  id = "";
  /** The tunnel configuration from READY (proxy address and credentials, …). */
  tunnel: TunnelConfig = {};
  creditLimit = 0n;
  /** Resolves when the session ends, however it ends. */
  readonly closed: Promise<SessionEnd>;
  /**
   * Resolves when the session ends by our own `close()`; rejects with a `RelayError` carrying
   * the end's code otherwise: the provider ended it (CREDIT_EXHAUSTED, SHUTTING_DOWN,
   * SESSION_REPLACED, …), the connection could not be brought back (CONNECTION_LOST), or the
   * provider refused to take it back after a restart (its code for the new OPEN).
   */
  readonly done: Promise<SessionEnd>;
  /**
   * Resolves once the provider is done with the session: after our close, when it confirms
   * that the tunnel is down; after its own close, at its CLOSE. (Never, if the connection is
   * lost first: race it with a timeout.)
   */
  readonly released: Promise<void>;
  /** @internal */
  state: RequesterSessionState;
  /** @internal */
  timer: NodeJS.Timeout | null = null;
  /** @internal */
  readonly opts: OpenSessionOptions;
  /** @internal */
  readonly client: RequesterClient;
  /**
   * @internal The OPEN out for this session and not answered yet: `open` (a new session; an
   * ERROR about the channel refuses it) or `resume` (of `id`; SESSION_UNKNOWN says it is lost).
   * Only an answer to an OPEN we sent moves the session: a provider cannot bill a new debt, or
   * make us open anew, unasked.
   */
  awaiting: "open" | "resume" | null = null;
  /** @internal The latest proof was sent again; the provider may already have it in flight. */
  resent = false;
  /** @internal The session id of the last READY. */
  readyId = "";
  #resolveClosed!: (e: SessionEnd) => void;
  #settleDone!: (e: SessionEnd) => void;
  #resolveReleased!: () => void;

  /** @internal */
  constructor(client: RequesterClient, opts: OpenSessionOptions, state: RequesterSessionState) {
    super();
    this.client = client;
    this.opts = opts;
    this.channelId = opts.channel.channelId;
    this.state = state;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.done = new Promise((resolve, reject) => {
      this.#settleDone = (e) =>
        e.code === "CLOSED_LOCALLY" ? resolve(e) : reject(new RelayError(e.code, e.reason));
    });
    // Seen by whoever awaits it; not an unhandled rejection when nobody does.
    this.done.catch(() => undefined);
    this.released = new Promise((resolve) => {
      this.#resolveReleased = resolve;
    });
  }

  /** @internal */
  releasedByProvider(): void {
    this.#resolveReleased();
  }

  /** @internal */
  ended(e: SessionEnd): void {
    this.#resolveClosed(e);
    this.#settleDone(e);
    this.emit("close", e);
  }

  /** @internal The session never opened (`openSession` rejected with this). */
  failed(err: RelayError): void {
    this.#settleDone({ code: err.code, reason: err.shortMessage });
  }

  /** Stops paying (the provider will WARN, then tear the tunnel down). */
  stopPaying(): void {
    this.client.input(this, { type: "ActionSetPaying", paying: false });
  }

  /** Resumes paying. */
  resumePaying(): void {
    this.client.input(this, { type: "ActionSetPaying", paying: true });
  }

  /** Ends the session; the channel stays open for the next one. */
  close(reason = "done"): Promise<SessionEnd> {
    // A last reading, so that the closing payment covers everything carried.
    const m = this.opts.meter;
    if (m !== undefined) this.client.input(this, { type: "ActionMeter", units: BigInt(m()) });
    this.client.input(this, { type: "ActionClose", reason });
    return this.closed;
  }

  /** Cumulative amount signed on the channel so far. */
  get signed(): bigint {
    return this.state.signed;
  }

  /** Highest nonce the provider has acknowledged as durable. */
  get ackedNonce(): bigint {
    return this.state.ackedNonce;
  }
}

/**
 * Connects to a provider and authenticates.
 * @throws RelayError CONNECTION_LOST, TIMEOUT, AUTH_FAILED, DOMAIN_MISMATCH, VERSION_UNSUPPORTED
 * @example
 * const client = await connect({ key, url: "ws://127.0.0.1:7400" });
 * const channel = await openChannel(settlement, { partner: client.provider, amount: 10n ** 18n });
 * const session = await client.openSession({
 *   channel, mode: "second", unitPrice: 10n, tunnel: { kind: "proxy" },
 * });
 * session.on("warn", (w) => console.log("behind, teardown in", w.teardownInMs));
 * // … use session.tunnel (host, port, username, password) …
 * await session.close();
 * await client.close();
 */
export async function connect(opts: RequesterOptions): Promise<RequesterClient> {
  const signer = createSigner(opts.key);
  const wire = await openWireConnection({
    url: opts.url,
    signer,
    ...(opts.domain ? { domain: opts.domain } : {}),
    ...(opts.provider ? { provider: opts.provider } : {}),
  });
  return new RequesterClient(opts, signer, wire);
}

/** A connected requester. Events: `disconnect`, `reconnect`, `error`. */
export class RequesterClient extends EventEmitter<{
  disconnect: [{ code: number }];
  reconnect: [];
  error: [unknown];
}> {
  readonly address: Address;
  readonly provider: Address;
  readonly domain: ChannelDomain;
  readonly #opts: RequesterOptions;
  readonly #signer: ProofSigner;
  readonly #clock: () => number;
  readonly #channels = new Map<ChannelId, ChannelState>();
  readonly #sessions = new Map<ChannelId, Session>();
  /** The last ended session of each channel, for acknowledgements that arrive after the close. */
  readonly #closed = new Map<ChannelId, Session>();
  readonly #waiters = new Map<ChannelId, { resolve: () => void; reject: (e: unknown) => void }>();
  readonly #quotes = new Map<
    string,
    { resolve: (q: Quote) => void; reject: (e: unknown) => void }
  >();
  #quoteSeq = 0;
  readonly #settling = new Map<
    ChannelId,
    { settlement: Settlement; resolve: (s: SignedSettlement) => void; reject: (e: unknown) => void }
  >();
  #wire: WireConnection;
  #closing = false;
  /** Store writes not yet durable, and the latest of them: frames wait behind it, in order. */
  #writing = 0;
  #written: Promise<unknown> = Promise.resolve();

  /** @internal */
  constructor(opts: RequesterOptions, signer: ProofSigner, wire: WireConnection) {
    super();
    this.#opts = opts;
    this.#signer = signer;
    this.address = signer.address;
    this.provider = wire.provider;
    this.domain = wire.domain;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#wire = wire;
    this.#attach(wire);
    this.on("error", () => undefined);
  }

  /**
   * Opens a session: sends OPEN, pays the first unit (plus prepay, plus a debt the channel
   * carries) once the provider's ACCEPT says what it builds on, and resolves at READY.
   * @throws RelayError with the provider's code (PRICE_TOO_LOW, CHANNEL_UNKNOWN, SESSION_BUSY,
   *   …), TIMEOUT, or the channel's code when the first payment cannot be made.
   */
  async openSession(o: OpenSessionOptions): Promise<Session> {
    const ref = o.channel;
    if (this.#sessions.has(ref.channelId)) {
      throw new RelayError("SESSION_BUSY", "a session is already open on this channel");
    }
    const channel = await this.#channelState(ref);
    const base = channel.sent?.proof.transferred ?? 0n;
    const second = o.mode === "second";
    const session = new Session(
      this,
      o,
      openRequesterSession(
        {
          mode: o.mode,
          unitPrice: o.unitPrice,
          prepayUnits: o.prepayUnits ?? 1n,
          tolerance: o.tolerance ?? { ratio: 0.05, units: second ? 1n : 4096n },
        },
        base,
        o.startPaused !== true,
      ),
    );
    this.#sessions.set(ref.channelId, session);
    const ready = new Promise<void>((resolve, reject) => {
      this.#waiters.set(ref.channelId, { resolve, reject });
    });
    const timeout = setTimeout(
      () => this.#failOpen(session, new RelayError("TIMEOUT", "no READY in time")),
      o.timeoutMs ?? 15_000,
    );
    this.#sendOpen(session, null);
    // Nothing is paid yet: the first unit follows the provider's ACCEPT.
    this.input(session, { type: "ActionStart" });
    try {
      await ready;
    } finally {
      clearTimeout(timeout);
    }
    return session;
  }

  /**
   * Asks the provider what a session would cost and whether it would take these parameters now.
   * @throws RelayError with the provider's code (MODE_UNSUPPORTED, TUNNEL_UNAVAILABLE,
   *   TUNNEL_PARAMS_INVALID), TIMEOUT
   */
  quote(o: QuoteOptions): Promise<Quote> {
    const quoteId = `q${++this.#quoteSeq}`;
    return new Promise<Quote>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#quotes.delete(quoteId);
        reject(new RelayError("TIMEOUT", "no quote in time"));
      }, o.timeoutMs ?? 5_000);
      const done = () => {
        clearTimeout(timer);
        this.#quotes.delete(quoteId);
      };
      this.#quotes.set(quoteId, {
        resolve: (q) => {
          done();
          resolve(q);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.#send({
        type: "QUOTE",
        quoteId,
        mode: o.mode,
        tunnelKind: o.tunnel.kind,
        tunnelParams: o.tunnel.params ?? {},
      });
    });
  }

  /**
   * Proposes a cooperative close at the current balances and waits for the provider's
   * countersignature. `closeCooperatively` (channel-funds.ts) does this and submits the result.
   * @throws RelayError with the provider's code when it refuses, CONNECTION_LOST.
   */
  settle(channelId: ChannelId): Promise<SignedSettlement> {
    const state = this.#channels.get(channelId);
    if (state === undefined) {
      return Promise.reject(new RelayError("CHANNEL_UNKNOWN", "no such channel in this client"));
    }
    const session = this.#sessions.get(channelId);
    if (session !== undefined) this.input(session, { type: "ActionClose", reason: "settling" });
    const { state: next, effects } = transition(
      state,
      { type: "ActionProposeSettlement" },
      this.#ctx(),
    );
    const proposal = effects.find((e) => e.type === "SendSettlementProposal");
    if (proposal === undefined || proposal.type !== "SendSettlementProposal") {
      const rejected = effects.find((e) => e.type === "NotifyActionRejected");
      const code = rejected?.type === "NotifyActionRejected" ? rejected.code : "INTERNAL";
      return Promise.reject(new RelayError(code, "cannot propose a settlement"));
    }
    this.#setChannel(state, next).catch((err: unknown) => this.emit("error", err));
    return new Promise((resolve, reject) => {
      this.#settling.set(channelId, { settlement: proposal.settlement, resolve, reject });
      this.#send({
        type: "SETTLE_PROPOSE",
        channelId,
        payoutA: proposal.settlement.payoutA,
        payoutB: proposal.settlement.payoutB,
        signature: proposal.signature,
      });
    });
  }

  /** The channel as this client knows it (latest proof sent). */
  channel(channelId: ChannelId): ChannelState | undefined {
    return this.#channels.get(channelId);
  }

  /** Closes every session and the connection. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const s of [...this.#sessions.values()])
      this.input(s, { type: "ActionClose", reason: "client closes" });
    this.#wire.close(1000, "bye");
  }

  /** Drops the socket without closing sessions (tests of reconnect and resume). */
  dropConnection(): void {
    this.#wire.ws.terminate();
  }

  /** @internal Runs the session core and carries out its effects. */
  input(session: Session, input: RequesterSessionInput): void {
    const { state, effects } = requesterSessionTransition(session.state, input, {
      now: this.#clock(),
    });
    session.state = state;
    for (const e of effects) this.#carryOut(session, e);
  }

  #ctx() {
    return { now: BigInt(Math.floor(Date.now() / 1000)), blockNumber: 0n, signer: this.#signer };
  }

  /** The channel as this client holds it (memory, else its store, else new), deposits updated. */
  async #channelState(ref: SessionChannel): Promise<ChannelState> {
    let s =
      this.#channels.get(ref.channelId) ?? (await this.#opts.store?.loadChannel(ref.channelId));
    if (
      s !== undefined &&
      (s.params.participantA !== this.address.toLowerCase() ||
        s.params.participantB !== this.provider.toLowerCase())
    ) {
      throw new RelayError(
        "CHANNEL_NOT_PARTICIPANT",
        "the stored channel is not with this provider",
      );
    }
    const before = s;
    s ??= createChannel({
      channelId: ref.channelId,
      domain: this.domain,
      participantA: this.address,
      participantB: this.provider,
      self: "A",
      settleTimeout: 0n,
    });
    s = syncDeposits(
      s,
      { depositA: ref.depositA, depositB: ref.depositB ?? 0n },
      this.#ctx(),
    ).state;
    await this.#setChannel(before, s);
    return s;
  }

  /** Takes a channel's new state; with a store, resolves once it is durable. */
  #setChannel(before: ChannelState | undefined, after: ChannelState): Promise<void> {
    this.#channels.set(after.params.channelId, after);
    const store = this.#opts.store;
    if (store === undefined || before === after) return Promise.resolve();
    this.#writing++;
    const write = store.persist(before, after).finally(() => {
      this.#writing--;
    });
    this.#written = write.catch(() => undefined);
    return write;
  }

  /** Sends a frame once every earlier store write is durable (at once without a store). */
  #send(frame: Frame): void {
    if (this.#writing === 0) this.#wire.send(frame);
    else void this.#written.then(() => this.#wire.send(frame));
  }

  #carryOut(session: Session, e: RequesterSessionEffect): void {
    const channelId = session.channelId;
    switch (e.type) {
      case "SendPay": {
        const before = this.#channels.get(channelId)!;
        const { state, effects } = transition(
          before,
          { type: "ActionPay", amount: e.amount },
          this.#ctx(),
        );
        for (const fx of effects) {
          if (fx.type === "SendBalanceProof") {
            const pay: Frame = {
              type: "PAY",
              channelId,
              nonce: fx.signed.proof.nonce,
              transferred: fx.signed.proof.transferred,
              signature: fx.signed.signature,
            };
            // Durable before it leaves: a restarted client must never sign a lower nonce again.
            const durable = this.#setChannel(before, state);
            if (this.#opts.store === undefined) this.#send(pay);
            else {
              durable.then(
                () => this.#wire.send(pay),
                (err: unknown) => {
                  this.emit("error", err);
                  this.input(session, { type: "ActionClose", reason: "cannot store the payment" });
                },
              );
            }
          } else if (fx.type === "NotifyActionRejected") {
            // The channel cannot pay any more (deposit used up): the session cannot go on.
            this.input(session, { type: "ActionClose", reason: `cannot pay: ${fx.code}` });
          }
        }
        return;
      }
      case "ResendLatest": {
        const sent = this.#channels.get(channelId)?.sent;
        if (sent === null || sent === undefined) return;
        session.resent = true;
        this.#send({
          type: "PAY",
          channelId,
          nonce: sent.proof.nonce,
          transferred: sent.proof.transferred,
          signature: sent.signature,
        });
        return;
      }
      case "SendClose":
        if (session.id !== "") {
          this.#send({ type: "CLOSE", sessionId: session.id, code: e.code, reason: e.reason });
        }
        return;
      case "NotifyReady":
        this.#startTimer(session);
        return;
      case "NotifyUsage":
        session.emit("usage", { units: e.units, owed: e.owed, own: e.own });
        return;
      case "NotifyAck":
        session.emit("ack", { nonce: e.nonce, transferred: e.transferred });
        return;
      case "NotifyWarn":
        session.emit("warn", { teardownInMs: e.teardownInMs, unpaid: e.unpaid });
        return;
      case "NotifyClosed": {
        if (session.timer !== null) clearInterval(session.timer);
        session.timer = null;
        this.#sessions.delete(channelId);
        // The closing payment is acknowledged after the close: keep routing ACKs here.
        this.#closed.set(channelId, session);
        this.#failOpen(session, new RelayError(e.code, e.reason));
        session.ended({ code: e.code, reason: e.reason });
        return;
      }
    }
  }

  #startTimer(session: Session): void {
    if (session.timer !== null) return;
    const every = session.opts.payEveryMs ?? (session.opts.mode === "second" ? 1_000 : 100);
    session.timer = setInterval(() => {
      const m = session.opts.meter;
      this.input(session, { type: "ActionMeter", units: m === undefined ? null : BigInt(m()) });
    }, every);
  }

  #failOpen(session: Session, err: RelayError): void {
    const w = this.#waiters.get(session.channelId);
    if (w === undefined) return;
    this.#waiters.delete(session.channelId);
    if (this.#sessions.get(session.channelId) === session && session.state.phase !== "closed") {
      this.#sessions.delete(session.channelId);
      this.#closed.set(session.channelId, session);
      session.state = { ...session.state, phase: "closed", closeCode: err.code };
      // Accepted but given up on: the provider need not hold it until its own timeout.
      if (session.id !== "") {
        this.#send({
          type: "CLOSE",
          sessionId: session.id,
          code: "CLOSED_BY_PEER",
          reason: err.shortMessage,
        });
      }
    }
    session.failed(err);
    w.reject(err);
  }

  #attach(wire: WireConnection): void {
    wire.onFrame = (f) => this.#onFrame(f);
    wire.onClose = (code) => {
      if (this.#wire !== wire) return;
      this.emit("disconnect", { code });
      if (this.#closing) return;
      for (const s of this.#sessions.values()) {
        this.#linkLost(s, "CONNECTION_LOST", `socket closed (${code})`);
      }
      void this.#reconnect();
    };
  }

  async #reconnect(): Promise<void> {
    const policy = this.#opts.reconnect ?? { attempts: 8, delayMs: 200 };
    const maxDelay = policy.maxDelayMs ?? 2_000;
    let delay = policy.delayMs;
    for (let i = 0; i < policy.attempts && !this.#closing; i++) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, Math.max(maxDelay, policy.delayMs));
      if (this.#closing) return;
      try {
        const wire = await openWireConnection({
          url: this.#opts.url,
          signer: this.#signer,
          domain: this.domain,
          provider: this.provider,
        });
        this.#wire = wire;
        this.#attach(wire);
        // Resume every session: the same provider session if it still has it (SESSION_UNKNOWN
        // otherwise, and then a new one on the same channel), or an open not yet accepted anew.
        for (const s of this.#sessions.values()) this.#sendOpen(s, s.id === "" ? null : s.id);
        this.emit("reconnect");
        return;
      } catch (err) {
        this.emit("error", err);
      }
    }
    for (const s of [...this.#sessions.values()]) {
      this.#failOpen(s, new RelayError("CONNECTION_LOST", "cannot reconnect"));
      this.input(s, { type: "ReceiveClose", code: "CONNECTION_LOST", reason: "cannot reconnect" });
    }
  }

  /** OPEN of a session's channel: resuming the provider's session `resume`, or a new one. */
  #sendOpen(s: Session, resume: string | null): void {
    const ref = s.opts.channel;
    s.awaiting = resume === null ? "open" : "resume";
    this.#send({
      type: "OPEN",
      channelId: ref.channelId,
      ref: ref.ref,
      dealId: s.opts.dealId ?? "",
      mode: s.opts.mode,
      unitPrice: s.opts.unitPrice,
      tunnelKind: s.opts.tunnel.kind,
      tunnelParams: s.opts.tunnel.params ?? {},
      prepayUnits: s.opts.prepayUnits ?? 1n,
      resume,
    });
  }

  /** The link to a session is lost: stop paying, and say so. */
  #linkLost(s: Session, code: RelayErrorCode, reason: string): void {
    if (s.state.phase === "closed") return;
    this.input(s, { type: "ActionLinkLost" });
    s.emit("resuming", { code, reason });
  }

  #onFrame(f: Frame): void {
    switch (f.type) {
      case "ACCEPT": {
        const s = this.#sessions.get(f.channelId);
        if (s === undefined) {
          // An open given up on (timed out): the provider need not wait for its first unit.
          if (!this.#closed.has(f.channelId)) return;
          this.#wire.send({
            type: "CLOSE",
            sessionId: f.sessionId,
            code: "CLOSED_BY_PEER",
            reason: "open given up",
          });
          return;
        }
        // An ACCEPT of a new session only answers our OPEN; of a resumed one, our resume.
        if (s.awaiting === null || (s.awaiting === "resume" && f.sessionId !== s.id)) return;
        // What the provider says the channel owes beyond what we have signed already.
        const debt = f.billed - (this.#channels.get(f.channelId)?.sent?.proof.transferred ?? 0n);
        if (s.opts.maxDebt !== undefined && debt > s.opts.maxDebt) {
          const err = new RelayError("DEBT_TOO_HIGH", `provider bills a debt of ${debt}`, {
            debt,
            maxDebt: s.opts.maxDebt,
          });
          s.id = f.sessionId;
          if (this.#waiters.has(f.channelId)) this.#failOpen(s, err);
          else {
            this.#send({
              type: "CLOSE",
              sessionId: s.id,
              code: err.code,
              reason: err.shortMessage,
            });
            this.input(s, { type: "ReceiveClose", code: err.code, reason: err.shortMessage });
          }
          return;
        }
        s.id = f.sessionId;
        s.awaiting = null;
        this.input(s, {
          type: "ReceiveAccept",
          sessionId: f.sessionId,
          ackedNonce: f.ackedNonce,
          ackedTransferred: f.ackedTransferred,
          billed: f.billed,
        });
        return;
      }
      case "READY": {
        const s = this.#sessions.get(f.channelId);
        // Only the session ACCEPT named (a new one is always accepted first).
        if (s === undefined || f.sessionId !== s.id || s.awaiting === "open") return;
        const resumed = s.readyId !== "";
        const fresh = resumed && s.readyId !== f.sessionId;
        s.readyId = f.sessionId;
        s.awaiting = null;
        s.tunnel = f.tunnel;
        s.creditLimit = f.creditLimit;
        this.input(s, {
          type: "ReceiveReady",
          sessionId: f.sessionId,
          ackedNonce: f.ackedNonce,
          ackedTransferred: f.ackedTransferred,
        });
        const w = this.#waiters.get(f.channelId);
        this.#waiters.delete(f.channelId);
        w?.resolve();
        if (resumed) s.emit("resumed", { sessionId: f.sessionId, fresh });
        return;
      }
      case "ACK": {
        const s = this.#sessions.get(f.channelId) ?? this.#closed.get(f.channelId);
        if (s !== undefined)
          this.input(s, { type: "ReceiveAck", nonce: f.nonce, transferred: f.transferred });
        return;
      }
      case "QUOTE_OK": {
        const { type: _, quoteId, ...quote } = f;
        this.#quotes.get(quoteId)?.resolve(quote);
        return;
      }
      case "USAGE":
      case "WARN":
      case "CLOSE": {
        const s = this.#bySessionId(f.sessionId);
        if (s === undefined) {
          // The answer to our own close: the provider's side of the session is done.
          if (f.type === "CLOSE")
            this.#bySessionId(f.sessionId, this.#closed)?.releasedByProvider();
          return;
        }
        if (f.type === "CLOSE") s.releasedByProvider();
        if (f.type === "USAGE") {
          // Check the claim against our counters as they are now, not as last metered.
          const m = s.opts.meter;
          if (m !== undefined) this.input(s, { type: "ActionMeter", units: BigInt(m()) });
          this.input(s, { type: "ReceiveUsage", units: f.units, owed: f.owed });
        } else if (f.type === "WARN") {
          this.input(s, { type: "ReceiveWarn", teardownInMs: f.teardownInMs, unpaid: f.unpaid });
        } else this.input(s, { type: "ReceiveClose", code: f.code, reason: f.reason });
        return;
      }
      case "SETTLE_SIGN": {
        const p = this.#settling.get(f.channelId);
        const state = this.#channels.get(f.channelId);
        if (p === undefined || state === undefined) return;
        this.#settling.delete(f.channelId);
        const settlement = { channelId: f.channelId, payoutA: f.payoutA, payoutB: f.payoutB };
        const check = new ProofVerifier().verifySettlement(
          this.domain,
          settlement,
          f.signature,
          this.provider,
        );
        const { state: next, effects } = transition(
          state,
          {
            type: "ReceiveSettlementSignature",
            settlement,
            signature: f.signature,
            domain: this.domain,
            check,
          },
          this.#ctx(),
        );
        const coop = effects.find((e) => e.type === "ChainSendCooperativeClose");
        if (coop === undefined || coop.type !== "ChainSendCooperativeClose") {
          p.reject(new RelayError("SETTLEMENT_UNEXPECTED", "the countersignature does not fit"));
          return;
        }
        this.#setChannel(state, next).catch((err: unknown) => this.emit("error", err));
        p.resolve({
          settlement: coop.settlement,
          signatureA: coop.signatureA,
          signatureB: coop.signatureB,
        });
        return;
      }
      case "ERROR": {
        const ref = f.ref as ChannelId | null;
        if (ref !== null) {
          this.#quotes.get(ref)?.reject(new RelayError(f.code, f.message));
          const settling = this.#settling.get(ref);
          if (settling !== undefined) {
            this.#settling.delete(ref);
            settling.reject(new RelayError(f.code, f.message));
          }
          this.#onSessionError(ref, f.code, f.message);
        }
        this.emit("error", new RelayError(f.code, f.message, { ref: f.ref }));
        return;
      }
      default:
        return;
    }
  }

  /** An ERROR about a session (ref: its id) or a channel that has one (ref: the channel). */
  #onSessionError(ref: string, code: RelayErrorCode, message: string): void {
    const byId = this.#bySessionId(ref);
    if (byId !== undefined) {
      // Our resume found no session: the provider restarted, or ended it while we were away.
      // Nothing more is paid into it; a new session on the same channel takes its place.
      if (code === "SESSION_UNKNOWN" && byId.awaiting === "resume") {
        this.#linkLost(byId, code, message);
        this.#sendOpen(byId, null);
      }
      return;
    }
    const s = this.#sessions.get(ref as ChannelId);
    if (s === undefined) return;
    // The proof sent again may already be on its way into the provider's store: that one lands
    // and counts; its copy is refused as a replay, which is no reason to give up.
    if (code === "NONCE_NOT_INCREASING" && s.resent) {
      s.resent = false;
      return;
    }
    if (this.#waiters.has(ref as ChannelId)) {
      this.#failOpen(s, new RelayError(code, message));
    } else if (s.awaiting === "open") {
      // The OPEN that was to take back a lost session is refused: the session ends with it.
      s.awaiting = null;
      this.input(s, { type: "ReceiveClose", code, reason: message });
    }
  }

  /** The session with this provider id among the open ones (or those given). */
  #bySessionId(id: string, among: Map<ChannelId, Session> = this.#sessions): Session | undefined {
    for (const s of among.values()) if (s.id === id) return s;
    return undefined;
  }
}
