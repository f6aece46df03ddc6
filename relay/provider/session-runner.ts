/**
 * The provider's sessions: QUOTE and OPEN (resume, replace, or a new session on a loaded
 * channel), and for each session the shell around its core (session/provider-session.ts): the
 * tunnel driver's activation, usage and teardown, the tick and teardown timers, the channel's
 * billed mark (credit carried from session to session), and the frames the core asks for (ACK,
 * READY, USAGE, WARN, CLOSE). Durable payments come in from the proof pipeline through
 * `acknowledge`.
 */
import { randomBytes } from "node:crypto";
import { type Address, type ChannelId, shortMessageOf } from "../../channels/index.ts";
import type { RelayErrorCode } from "../errors.ts";
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
import type { CloseFrame, MeterMode, OpenFrame, QuoteFrame } from "../wire/frames.ts";
import { type AdmissionControl, busyMessage } from "./admission.ts";
import type { ChannelEntry, ChannelLoader } from "./channel-loader.ts";
import { bind, type Connection, type Peers } from "./connection.ts";
import { balanceOf, type DebtLedger } from "./debt-ledger.ts";

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

/** One running session and what its shell holds for it. */
export interface SessionEntry {
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

/** What sessions tell the node's listeners. */
export interface SessionEvents {
  ready(e: { sessionId: string; channelId: ChannelId }): void;
  closed(e: SessionClosedEvent): void;
  /** A fault of a driver or of the ledger to report. */
  fail(err: unknown): void;
}

/** What a `SessionRunner` needs. */
export interface SessionRunnerOptions {
  readonly drivers: readonly TunnelDriver[];
  /** Prices and credit per metering mode; modes without a policy are refused. */
  readonly pricing: Partial<Record<MeterMode, PricePolicy>>;
  /** Milliseconds, monotonic. */
  readonly clock: () => number;
  readonly channels: ChannelLoader;
  readonly peers: Peers;
  readonly ledger: DebtLedger;
  /** New sessions past the node's headroom get BUSY (null: every OPEN is admitted). */
  readonly admission: AdmissionControl | null;
  readonly events: SessionEvents;
}

/** The sessions of one provider node. */
export class SessionRunner {
  readonly #opts: SessionRunnerOptions;
  readonly #peers: Peers;
  readonly #clock: () => number;
  readonly #drivers = new Map<TunnelKind, TunnelDriver>();
  readonly #sessions = new Map<string, SessionEntry>();
  /** Channels an OPEN is loading now. */
  readonly #opening = new Set<ChannelId>();
  #stopping = false;
  #acksSent = 0;

  constructor(opts: SessionRunnerOptions) {
    this.#opts = opts;
    this.#peers = opts.peers;
    this.#clock = opts.clock;
    for (const d of opts.drivers) this.#drivers.set(d.kind, d);
  }

  /** ACK frames sent. */
  get acksSent(): number {
    return this.#acksSent;
  }

  /** Sessions not closed yet. */
  activeCount(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.state.phase !== "closed") n++;
    return n;
  }

  /** A session's state. */
  state(sessionId: string): ProviderSessionState | undefined {
    return this.#sessions.get(sessionId)?.state;
  }

  /** Ends a session now, if there is one by that id. */
  close(sessionId: string, code: RelayErrorCode, reason: string): void {
    const s = this.#sessions.get(sessionId);
    if (s !== undefined) this.#run(s, { type: "ActionClose", code, reason });
  }

  /** Ends the channel's session, if it has one. */
  closeOf(entry: ChannelEntry, code: RelayErrorCode, reason: string): void {
    if (entry.session !== null) this.#run(entry.session, { type: "ActionClose", code, reason });
  }

  /** Ends every session, and arms no timers from then on. */
  stop(code: RelayErrorCode, reason: string): void {
    this.#stopping = true;
    for (const s of [...this.#sessions.values()])
      this.#run(s, { type: "ActionClose", code, reason });
  }

  /** A newer payment of the channel is durable: its session hears of it, or else it is ACKed. */
  acknowledge(entry: ChannelEntry, nonce: bigint, transferred: bigint): void {
    const s = entry.session;
    if (s !== null) this.#run(s, { type: "ReceivePayment", nonce, transferred });
    else this.#sendAck(entry);
  }

  /** The terms an OPEN with these parameters would get, or why it would be refused. */
  onQuote(conn: Connection, frame: QuoteFrame): void {
    const ref = frame.quoteId;
    const offer = this.#offer(conn, frame.mode, frame.tunnelKind, ref);
    if (offer === null) return;
    const refusal = offer.driver.check?.(frame.tunnelParams) ?? null;
    if (refusal !== null) {
      this.#peers.error(conn, refusal.code, refusal.reason, ref);
      return;
    }
    const terms = sessionTerms(frame.mode, offer.policy.unitPrice, offer.policy);
    this.#peers.send(conn, {
      type: "QUOTE_OK",
      quoteId: ref,
      unitPrice: terms.unitPrice,
      creditLimit: terms.creditLimit,
      graceMs: terms.graceMs,
      tickMs: terms.tickMs,
      activateOnCredit: terms.activateOnCredit ?? false,
    });
  }

  /** The requester ends a session. */
  onClose(conn: Connection, frame: CloseFrame): void {
    const s = this.#sessions.get(frame.sessionId);
    if (s === undefined || s.channel.owner !== conn) {
      this.#peers.error(conn, "SESSION_UNKNOWN", "no such session", frame.sessionId);
      return;
    }
    this.#run(s, { type: "ReceiveClose", reason: frame.reason });
  }

  /** OPEN: a resume, or a new session on the channel (replacing the channel's old one). */
  async onOpen(conn: Connection, frame: OpenFrame): Promise<void> {
    const requester = conn.authed!;
    const ref = frame.channelId;
    if (frame.resume !== null) {
      this.#resume(conn, frame.resume, frame.channelId, requester);
      return;
    }
    if (this.#refuseBusy(conn, ref)) return;
    const offer = this.#offer(conn, frame.mode, frame.tunnelKind, ref, frame.unitPrice);
    if (offer === null) return;
    const { policy, driver } = offer;
    if (this.#opening.has(frame.channelId)) {
      this.#peers.error(conn, "SESSION_BUSY", "the channel is being opened", ref);
      return;
    }
    this.#opening.add(frame.channelId);
    try {
      const loaded = await this.#opts.channels.load(requester, frame);
      if (!loaded.ok) {
        this.#peers.error(conn, loaded.code, loaded.reason, ref);
        return;
      }
      const entry = loaded.value;
      const old = entry.session;
      if (old !== null && old.state.phase !== "closed") {
        // The channel's own requester opens it again. On the connection that holds a running
        // session that is a mistake; from another one it is the requester back after a restart
        // or a lost socket (its old session never comes back): the new session takes over, and
        // owes what the old one leaves unpaid. A session never paid is replaced on any
        // connection; on its own one without a word, which the requester could take for the
        // new OPEN's refusal.
        if (old.state.phase !== "opening" && entry.owner === conn) {
          this.#peers.error(conn, "SESSION_BUSY", "the channel has a session open", ref);
          return;
        }
        old.silent = old.state.phase === "opening" && entry.owner === conn;
        this.#run(old, {
          type: "ActionClose",
          code: "SESSION_REPLACED",
          reason: "the channel was opened again",
        });
      }
      bind(conn, entry);
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
      this.#run(session, { type: "ActionStart" });
    } finally {
      this.#opening.delete(frame.channelId);
    }
  }

  /** The requester takes its session back on this connection (it never costs a lookup). */
  #resume(conn: Connection, sessionId: string, channelId: ChannelId, requester: Address): void {
    const s = this.#sessions.get(sessionId);
    if (
      s === undefined ||
      s.state.phase === "closed" ||
      s.requester !== requester ||
      s.state.channelId !== channelId
    ) {
      this.#peers.error(conn, "SESSION_UNKNOWN", "no such session to resume", sessionId);
      return;
    }
    bind(conn, s.channel);
    if (s.state.phase === "active") this.#sendReady(s);
    else this.#sendAccept(s);
    this.#sendAck(s.channel);
  }

  /** A new session past the node's headroom: ERROR BUSY with a retry hint; true if refused. */
  #refuseBusy(conn: Connection, ref: string): boolean {
    const d = this.#opts.admission?.check(performance.now());
    if (d === undefined || d.admit) return false;
    this.#peers.error(conn, "BUSY", busyMessage(d.retryAfterMs, d.reason), ref);
    return true;
  }

  /**
   * The price policy and driver a QUOTE or OPEN asks for, or null once an ERROR with `ref` has
   * said why not (no such mode, a unit price below the policy's, no such tunnel kind).
   */
  #offer(
    conn: Connection,
    mode: MeterMode,
    kind: TunnelKind,
    ref: string,
    unitPrice?: bigint,
  ): { policy: PricePolicy; driver: TunnelDriver } | null {
    const policy = this.#opts.pricing[mode];
    if (policy === undefined) {
      this.#peers.error(conn, "MODE_UNSUPPORTED", `no ${mode} metering here`, ref);
      return null;
    }
    if (unitPrice !== undefined && unitPrice < policy.unitPrice) {
      this.#peers.error(conn, "PRICE_TOO_LOW", `unit price is at least ${policy.unitPrice}`, ref);
      return null;
    }
    const driver = this.#drivers.get(kind);
    if (driver === undefined) {
      this.#peers.error(conn, "TUNNEL_UNAVAILABLE", `no ${kind} tunnels here`, ref);
      return null;
    }
    return { policy, driver };
  }

  #sendReady(s: SessionEntry): void {
    const entry = s.channel;
    this.#peers.send(entry.owner, {
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
    this.#peers.send(entry.owner, {
      type: "ACCEPT",
      channelId: s.state.channelId,
      sessionId: s.state.sessionId,
      ackedNonce: entry.durableNonce,
      ackedTransferred: entry.durableTransferred,
      billed: billedOf(s.state),
    });
  }

  #sendAck(entry: ChannelEntry): void {
    this.#acksSent++;
    const s = entry.session;
    this.#peers.send(entry.owner, {
      type: "ACK",
      channelId: entry.state.params.channelId,
      nonce: entry.durableNonce,
      transferred: entry.durableTransferred,
      owed: s !== null ? owedOf(s.state) : 0n,
    });
  }

  /** Moves the channel's billed mark up to what a session has billed, and records it. */
  #noteBilled(s: SessionEntry): void {
    const entry = s.channel;
    const billed = billedOf(s.state);
    if (billed <= entry.billedTo) return;
    entry.billedTo = billed;
    this.#opts.ledger.record(s.state.channelId, billed);
  }

  /** Runs the session core on one input and carries out its effects. */
  #run(s: SessionEntry, input: ProviderSessionInput): void {
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
    const peers = this.#peers;
    switch (e.type) {
      case "SendAck":
        this.#acksSent++;
        peers.send(conn, {
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
        this.#opts.events.ready({ sessionId, channelId: s.state.channelId });
        return;
      case "SendUsage":
        this.#noteBilled(s);
        peers.send(conn, { type: "USAGE", sessionId, units: e.units, owed: e.owed });
        return;
      case "SendWarn":
        peers.send(conn, {
          type: "WARN",
          sessionId,
          teardownInMs: e.teardownInMs,
          unpaid: e.unpaid,
        });
        return;
      case "SendClose":
        if (s.silent) return;
        // Before READY the requester does not know the session id: it hears of its OPEN.
        if (s.config === null) peers.error(conn, e.code, e.reason, s.state.channelId);
        else peers.send(conn, { type: "CLOSE", sessionId, code: e.code, reason: e.reason });
        return;
      case "NotifyActivateTunnel":
        s.driver.activate({ sessionId, kind: s.kind, params: s.params }).then(
          (config) => this.#run(s, { type: "ActionTunnelUp", config }),
          (err: unknown) =>
            this.#run(s, {
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
              peers.send(s.channel.owner, {
                type: "CLOSE",
                sessionId,
                code: "CLOSED_BY_PEER",
                reason: "tunnel down",
              });
            }
          },
          (err: unknown) => this.#opts.events.fail(err),
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
        this.#opts.events.closed({
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
        });
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
    if (at === null || this.#stopping) return;
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
      this.#run(s, { type: "ActionTick", usage: null });
      return;
    }
    s.ticking = true;
    s.driver.readUsage(s.state.sessionId).then(
      (usage) => {
        s.ticking = false;
        this.#run(s, { type: "ActionTick", usage });
      },
      (err: unknown) => {
        s.ticking = false;
        this.#opts.events.fail(err);
        this.#run(s, { type: "ActionTick", usage: null });
      },
    );
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
