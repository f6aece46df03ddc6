/**
 * The market's imperative shell: owns the core, the journal, the verifier pool and the push
 * subscribers. One command at a time: journal it durably, apply it to the core (which refuses
 * bad input without changing anything), then answer and push its events.
 */
import { availableParallelism } from "node:os";
import { type TypedDataCheck, VerifyPool } from "../../../channels/index.ts";
import type { MarketCommand, MarketConfig, MarketCore, MarketEvent } from "../core/market-core.ts";
import { type JournalOptions, type LoadStats, MarketJournal } from "../journal/market-journal.ts";
import { type Address, MarketError, type MarketResult } from "../types.ts";
import {
  MARKET_STRUCTS,
  type MarketDomain,
  type MarketTypeName,
  marketDomain,
  type TypedMessage,
} from "./typed-data.ts";

/** Default cap on the orders one owner may have resting in the book. */
export const DEFAULT_MAX_RESTING_PER_OWNER = 1_000;

/** Settings of a market service. */
export interface MarketServiceOptions extends MarketConfig, JournalOptions {
  /** Directory of the level journal. */
  readonly dir: string;
  /**
   * Chain id of the EIP-712 domain orders are signed for. Required: a market that guessed it
   * would refuse every order signed for the chain it really serves (`WRONG_SIGNER`).
   */
  readonly chainId: number;
  readonly verifyingContract?: `0x${string}`;
  /** Verifier worker threads (default: cores − 1). */
  readonly verifiers?: number;
  /** Clock in ms (tests pass their own). */
  readonly now?: () => number;
  /** Period of the timeout/expiry tick in ms; 0 disables the timer. Default 1000. */
  readonly tickMs?: number;
  /**
   * Most orders one owner may have resting in the book; placing one more is refused with
   * `OWNER_ORDER_LIMIT` (default {@link DEFAULT_MAX_RESTING_PER_OWNER}).
   */
  readonly maxRestingPerOwner?: number;
}

/** Receives events addressed to one wallet. */
export type Subscriber = (event: MarketEvent) => void;

/** Market core + journal + verifiers + push. */
export class MarketService {
  readonly core: MarketCore;
  readonly domain: MarketDomain;
  readonly verifier: VerifyPool;
  readonly now: () => number;
  readonly maxRestingPerOwner: number;
  private readonly journal: MarketJournal;
  private readonly subscribers = new Map<Address, Set<Subscriber>>();
  private timer: NodeJS.Timeout | undefined;
  /** Number of journal entries replayed at start (after the snapshot, if one was loaded). */
  readonly replayed: number;
  /** What the start found: the snapshot used, entries replayed, damaged snapshots skipped. */
  readonly loaded: LoadStats;

  private constructor(
    core: MarketCore,
    journal: MarketJournal,
    domain: MarketDomain,
    verifier: VerifyPool,
    opts: MarketServiceOptions,
    loaded: LoadStats,
  ) {
    this.core = core;
    this.journal = journal;
    this.domain = domain;
    this.verifier = verifier;
    this.now = opts.now ?? Date.now;
    this.maxRestingPerOwner = opts.maxRestingPerOwner ?? DEFAULT_MAX_RESTING_PER_OWNER;
    this.loaded = loaded;
    this.replayed = loaded.replayed;
  }

  /**
   * Opens the journal, loads its newest snapshot and replays the rest into a fresh core, then
   * starts the verifiers and the tick.
   * @throws MarketError `NO_CHAIN_ID` without a usable chain id; `JOURNAL_CORRUPT` when the
   *   journal cannot be restored.
   */
  static async open(opts: MarketServiceOptions): Promise<MarketService> {
    if (!Number.isSafeInteger(opts.chainId) || opts.chainId <= 0)
      throw new MarketError(
        "NO_CHAIN_ID",
        `chainId must be a positive integer, got ${opts.chainId}`,
      );
    const journal = await MarketJournal.open(opts.dir, opts);
    let loaded: Awaited<ReturnType<MarketJournal["load"]>>;
    try {
      loaded = await journal.load(opts);
    } catch (err) {
      await journal.close();
      throw err;
    }
    let verifier: VerifyPool;
    try {
      verifier = await VerifyPool.create({
        threads: opts.verifiers ?? Math.max(1, availableParallelism() - 1),
      });
    } catch (err) {
      await journal.close();
      throw err;
    }
    const domain = marketDomain(opts.chainId, opts.verifyingContract);
    const svc = new MarketService(loaded.core, journal, domain, verifier, opts, loaded.stats);
    const tickMs = opts.tickMs ?? 1000;
    if (tickMs > 0) {
      svc.timer = setInterval(() => {
        svc.tick().catch((err: unknown) => {
          process.emitWarning(`market tick failed: ${String(err)}`, "MarketServiceWarning");
        });
      }, tickMs);
      svc.timer.unref();
    }
    return svc;
  }

  /**
   * Journals a command, applies it once it is durable, and pushes its events.
   * @throws MarketError with the core's code when the command is refused (nothing changed).
   */
  async execute(cmd: MarketCommand): Promise<MarketEvent[]> {
    const now = this.now();
    const r = await this.journal.record(cmd, now, (seq) => this.applyJournaled(seq, cmd, now));
    if (!r.ok) throw new MarketError(r.code, r.reason);
    this.push(r.value);
    return r.value;
  }

  /**
   * Recovers the signer of a market message in the verifier workers.
   * @param signature - 0x-hex `r‖s‖v`, 65 bytes
   * @returns the signer and the digest, or a rejection: VALUE_OUT_OF_RANGE when a value does not
   *   fit its signed type, another code when the signature is unusable
   */
  verify(type: MarketTypeName, message: TypedMessage, signature: string): Promise<TypedDataCheck> {
    return this.verifier.verifyTypedData({
      domain: this.domain,
      type: MARKET_STRUCTS[type],
      message,
      signature: signatureBytes(signature),
    });
  }

  /** Places an order under the owner cap in force now. */
  placeOrder(cmd: Extract<MarketCommand, { type: "PlaceOrder" }>): Promise<MarketEvent[]> {
    // No cap is no field: JSON (the journal's format) has no Infinity.
    const cap = this.maxRestingPerOwner;
    return this.execute(Number.isFinite(cap) ? { ...cmd, maxRestingPerOwner: cap } : cmd);
  }

  private applyJournaled(
    seq: number,
    cmd: MarketCommand,
    now: number,
  ): MarketResult<MarketEvent[]> {
    const r = this.core.apply(cmd, now);
    if (!r.ok) this.journal.forget(seq);
    return r;
  }

  /** Runs timeouts and expiry; journals a tick only when one would change something. */
  async tick(): Promise<MarketEvent[]> {
    const now = this.now();
    if (!this.core.tickDue(now)) {
      this.core.compact(now);
      return [];
    }
    const r = await this.journal.record({ type: "Tick" }, now, (seq) => {
      const out = this.applyJournaled(seq, { type: "Tick" }, now);
      this.core.compact(now);
      return out;
    });
    if (!r.ok) return [];
    this.push(r.value);
    return r.value;
  }

  /** Writes a snapshot of the core now (restarts then replay only what follows it). */
  snapshot(): Promise<void> {
    return this.journal.snapshot();
  }

  /** Subscribes to the events addressed to a wallet; returns the unsubscribe function. */
  subscribe(address: Address, fn: Subscriber): () => void {
    const a = address.toLowerCase() as Address;
    let set = this.subscribers.get(a);
    if (!set) {
      set = new Set();
      this.subscribers.set(a, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.subscribers.delete(a);
    };
  }

  /** Subscribes to every event (an operator's view); returns the unsubscribe function. */
  observe(fn: Subscriber): () => void {
    this.observers.add(fn);
    return () => {
      this.observers.delete(fn);
    };
  }

  private readonly observers = new Set<Subscriber>();

  private push(events: readonly MarketEvent[]): void {
    for (const e of events) {
      for (const fn of this.observers) fn(e);
      for (const to of new Set(e.to)) {
        const set = this.subscribers.get(to);
        if (set) for (const fn of set) fn(e);
      }
    }
  }

  /** Stops the tick and the verifiers and closes the journal (after a last snapshot). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.verifier.close();
    await this.journal.close();
  }
}

const SIGNATURE_HEX = /^0x[0-9a-fA-F]{130}$/;

/**
 * The bytes of a market signature: 65 bytes of hex only (an empty array otherwise, which the
 * verifier refuses), with v 0/1 read as 27/28. Market signatures are never checked on chain, so
 * the market has always taken both forms of v.
 */
function signatureBytes(hex: string): Uint8Array {
  if (typeof hex !== "string" || !SIGNATURE_HEX.test(hex)) return new Uint8Array(0);
  const sig = Buffer.from(hex.slice(2), "hex");
  if (sig[64]! < 2) sig[64] = sig[64]! + 27;
  return sig;
}
