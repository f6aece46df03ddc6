/**
 * The market's imperative shell: owns the core, the journal, the verifier pool and the push
 * subscribers. One command at a time: apply it to the core (which refuses bad input without
 * changing anything), journal it, wait until it is durable, then answer and push its events.
 */
import {
  type MarketCommand,
  type MarketConfig,
  MarketCore,
  type MarketEvent,
} from "../core/market-core.ts";
import { MarketJournal } from "../journal/market-journal.ts";
import { type Address, MarketError } from "../types.ts";
import { type MarketDomain, marketDomain } from "./typed-data.ts";
import { VerifyPool } from "./verify-pool.ts";

/** Settings of a market service. */
export interface MarketServiceOptions extends MarketConfig {
  /** Directory of the level journal. */
  readonly dir: string;
  readonly chainId?: number;
  readonly verifyingContract?: `0x${string}`;
  /** Verifier worker threads (default: cores − 1). */
  readonly verifiers?: number;
  /** Clock in ms (tests pass their own). */
  readonly now?: () => number;
  /** Period of the timeout/expiry tick in ms; 0 disables the timer. Default 1000. */
  readonly tickMs?: number;
}

/** Receives events addressed to one wallet. */
export type Subscriber = (event: MarketEvent) => void;

/** Market core + journal + verifiers + push. */
export class MarketService {
  readonly core: MarketCore;
  readonly domain: MarketDomain;
  readonly verifier: VerifyPool;
  readonly now: () => number;
  private readonly journal: MarketJournal;
  private readonly subscribers = new Map<Address, Set<Subscriber>>();
  private timer: NodeJS.Timeout | undefined;
  /** Number of journal entries replayed at start. */
  readonly replayed: number;

  private constructor(
    core: MarketCore,
    journal: MarketJournal,
    domain: MarketDomain,
    verifier: VerifyPool,
    now: () => number,
    replayed: number,
  ) {
    this.core = core;
    this.journal = journal;
    this.domain = domain;
    this.verifier = verifier;
    this.now = now;
    this.replayed = replayed;
  }

  /** Opens the journal, replays it into a fresh core and starts the verifiers and the tick. */
  static async open(opts: MarketServiceOptions): Promise<MarketService> {
    const core = new MarketCore(opts);
    const journal = await MarketJournal.open(opts.dir);
    const replayed = await journal.replay(core);
    const domain = marketDomain(opts.chainId ?? 31337, opts.verifyingContract);
    const svc = new MarketService(
      core,
      journal,
      domain,
      new VerifyPool(domain, opts.verifiers),
      opts.now ?? Date.now,
      replayed,
    );
    const tickMs = opts.tickMs ?? 1000;
    if (tickMs > 0) {
      svc.timer = setInterval(() => void svc.tick().catch(() => undefined), tickMs);
      svc.timer.unref();
    }
    return svc;
  }

  /**
   * Applies a command, journals it and pushes its events.
   * @throws MarketError with the core's code when the command is refused (nothing changed).
   */
  async execute(cmd: MarketCommand): Promise<MarketEvent[]> {
    const now = this.now();
    const r = this.core.apply(cmd, now);
    if (!r.ok) throw new MarketError(r.code, r.reason);
    await this.journal.append(cmd, now);
    this.push(r.value);
    return r.value;
  }

  /** Runs timeouts and expiry; journals the tick only when it changed something. */
  async tick(): Promise<MarketEvent[]> {
    const now = this.now();
    const r = this.core.apply({ type: "Tick" }, now);
    this.core.compact(now);
    if (!r.ok || r.value.length === 0) return [];
    await this.journal.append({ type: "Tick" }, now);
    this.push(r.value);
    return r.value;
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

  /** Stops the tick and the verifiers and closes the journal. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.verifier.close();
    await this.journal.close();
  }
}
