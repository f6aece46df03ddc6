/**
 * The market's write-ahead journal in level: every command the core accepted, with the time it
 * was applied at, under a growing sequence number. Starting the market replays the journal into
 * a fresh core, which — being deterministic — ends in the same book, deals, wallets and
 * profiles.
 *
 * Writes are group-committed: commands appended in the same turn of the event loop go to level
 * in one batch, and each caller's promise resolves once its command is durable. The API answers
 * (and pushes) only after that, so nothing is shown to anyone that a crash could take back.
 */
import { ClassicLevel } from "classic-level";
import type { MarketCommand, MarketCore } from "../core/market-core.ts";

const BIG = "\u0000big:";

function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${BIG}${v}` : v));
}

function decode(text: string): unknown {
  return JSON.parse(text, (_k, v) =>
    typeof v === "string" && v.startsWith(BIG) ? BigInt(v.slice(BIG.length)) : v,
  );
}

function key(seq: number): string {
  return seq.toString(16).padStart(16, "0");
}

/** One journaled command. */
export interface JournalEntry {
  readonly cmd: MarketCommand;
  /** Milliseconds since the epoch, as passed to `apply`. */
  readonly now: number;
}

/** Append-only command log on a level database. */
export class MarketJournal {
  private readonly db: ClassicLevel<string, string>;
  private seq = 0;
  private pending: { key: string; value: string }[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  private constructor(db: ClassicLevel<string, string>) {
    this.db = db;
  }

  /** Opens (or creates) the journal in a directory. */
  static async open(path: string): Promise<MarketJournal> {
    const db = new ClassicLevel<string, string>(path, {
      keyEncoding: "utf8",
      valueEncoding: "utf8",
    });
    await db.open();
    return new MarketJournal(db);
  }

  /**
   * Replays every entry into `core` in order and positions the journal after the last one.
   * @returns the number of entries replayed.
   */
  async replay(core: MarketCore): Promise<number> {
    let n = 0;
    for await (const [k, v] of this.db.iterator()) {
      const e = decode(v) as JournalEntry;
      core.apply(e.cmd, e.now);
      this.seq = Number.parseInt(k, 16) + 1;
      n++;
    }
    return n;
  }

  /** Appends a command; resolves once it is on disk (shared batch with its neighbours). */
  append(cmd: MarketCommand, now: number): Promise<void> {
    this.pending.push({ key: key(this.seq++), value: encode({ cmd, now }) });
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    return p;
  }

  private async flush(): Promise<void> {
    const ops = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.scheduled = false;
    try {
      await this.db.batch(ops.map((o) => ({ type: "put" as const, key: o.key, value: o.value })));
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }

  /** Waits for pending writes and closes the database. */
  async close(): Promise<void> {
    if (this.pending.length > 0) await this.flush();
    await this.db.close();
  }
}
