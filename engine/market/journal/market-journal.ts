/**
 * The market's write-ahead journal in level: every command, with the time it is applied at,
 * under a growing sequence number, written (fsync'd) *before* the core applies it. Starting the
 * market loads the newest sound snapshot of the core and replays only the entries after it;
 * the core being deterministic, it ends in the same book, deals, wallets and profiles.
 *
 * Writes are group-committed: commands recorded in the same turn of the event loop go to level
 * in one synchronous batch; once it is on disk their `apply` callbacks run, one after the other
 * in sequence order, and each caller gets its result. The API answers (and pushes) only after
 * that, so nothing is shown to anyone that a crash could take back. A command the core refuses
 * is forgotten (deleted in a later batch); should a crash come first, replay refuses it again.
 *
 * Snapshots: every `snapshotEvery` applied commands, or `snapshotIntervalMs` after a change,
 * and on close, the core's image is written in one synchronous batch (chunks and manifest,
 * checksummed). The newest two snapshots are kept, with the entries after the older one, so a
 * damaged newest snapshot falls back to the one before it.
 *
 * Key layout: entries `<seq as 16 hex digits>`; snapshot manifests `s:<seq>`, their chunks
 * `t:<seq>:<index>`; `m:pruned` the last entry that was deleted as covered by a snapshot.
 */
import { ClassicLevel } from "classic-level";
import { type MarketCommand, type MarketConfig, MarketCore } from "../core/market-core.ts";
import { MarketError } from "../types.ts";
import {
  decodeSnapshot,
  encodeSnapshot,
  parseManifest,
  type SnapshotManifest,
} from "./snapshot-codec.ts";

const BIG = "\u0000big:";

function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${BIG}${v}` : v));
}

function decode(text: string): unknown {
  return JSON.parse(text, (_k, v) =>
    typeof v === "string" && v.startsWith(BIG) ? BigInt(v.slice(BIG.length)) : v,
  );
}

/**
 * An entry as written by {@link MarketJournal.record}.
 * @throws MarketError `JOURNAL_CORRUPT` when it is not one: replaying past it would build a
 *   state no one acknowledged.
 */
function readEntry(key: string, value: string): JournalEntry {
  let e: unknown;
  try {
    e = decode(value);
  } catch (err) {
    throw new MarketError("JOURNAL_CORRUPT", `journal entry ${key} is not JSON: ${String(err)}`);
  }
  const entry = e as Partial<JournalEntry> | null;
  if (
    !entry ||
    typeof entry !== "object" ||
    typeof entry.now !== "number" ||
    !entry.cmd ||
    typeof entry.cmd !== "object" ||
    typeof (entry.cmd as { type?: unknown }).type !== "string"
  )
    throw new MarketError("JOURNAL_CORRUPT", `journal entry ${key} has the wrong shape`);
  return entry as JournalEntry;
}

const hex16 = (n: number) => n.toString(16).padStart(16, "0");
const entryKey = hex16;
const FIRST_ENTRY = hex16(0);
const LAST_ENTRY = "f".repeat(16);
const manifestKey = (seq: number) => `s:${hex16(seq)}`;
const chunkKey = (seq: number, i: number) => `t:${hex16(seq)}:${i.toString(16).padStart(6, "0")}`;
const PRUNED_KEY = "m:pruned";

/** One journaled command. */
export interface JournalEntry {
  readonly cmd: MarketCommand;
  /** Milliseconds since the epoch, as passed to `apply`. */
  readonly now: number;
}

/** Default number of applied commands between snapshots. */
export const DEFAULT_SNAPSHOT_EVERY = 20_000;
/** Default longest wait between a change and a snapshot, ms. */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 120_000;

/** When the journal snapshots the core. */
export interface JournalOptions {
  /**
   * Applied commands between snapshots (default {@link DEFAULT_SNAPSHOT_EVERY}; 0: never by
   * count). Encoding the image stops the event loop for a time that grows with the book
   * (bench/market-restart.ts measures it), so snapshots are spaced, not taken per batch.
   */
  readonly snapshotEvery?: number;
  /**
   * Longest wait, in ms, between a change and a snapshot (default
   * {@link DEFAULT_SNAPSHOT_INTERVAL_MS}; 0: no timer).
   */
  readonly snapshotIntervalMs?: number;
  /** Snapshot what changed when closing, so the next start replays nothing (default true). */
  readonly snapshotOnClose?: boolean;
}

/** What loading found. */
export interface LoadStats {
  /** Sequence number the loaded snapshot covers up to, or -1 when none was used. */
  readonly snapshotSeq: number;
  /** Entries replayed on top of it. */
  readonly replayed: number;
  /** Damaged snapshots passed over. */
  readonly damagedSnapshots: number;
}

interface Pending {
  readonly seq: number;
  readonly now: number;
  readonly cmd: MarketCommand;
  readonly apply: (seq: number) => unknown;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

type Op =
  | { type: "put"; key: string; value: string }
  | { type: "put"; key: string; value: Uint8Array; valueEncoding: "view" }
  | { type: "del"; key: string };

/** Write-ahead command log with snapshots, on a level database. */
export class MarketJournal {
  private readonly db: ClassicLevel<string, string>;
  private readonly snapshotEvery: number;
  private readonly snapshotIntervalMs: number;
  private readonly snapshotOnClose: boolean;
  private core: MarketCore | undefined;
  private seq = 0;
  /** Entries written and applied up to (and excluding) this sequence number. */
  private applied = 0;
  private pending: Pending[] = [];
  /** Deletions of refused entries, carried by the next batch. */
  private forgotten: Op[] = [];
  private writing: Promise<void> | undefined;
  private scheduled = false;
  /** Applied commands since the last snapshot. */
  private sinceSnapshot = 0;
  private snapshotting: Promise<void> | undefined;
  /** Snapshots on disk, oldest first. */
  private snapshots: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(db: ClassicLevel<string, string>, opts: JournalOptions) {
    this.db = db;
    this.snapshotEvery = opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
    this.snapshotOnClose = opts.snapshotOnClose ?? true;
  }

  /** Opens (or creates) the journal in a directory. */
  static async open(path: string, opts: JournalOptions = {}): Promise<MarketJournal> {
    const db = new ClassicLevel<string, string>(path, {
      keyEncoding: "utf8",
      valueEncoding: "utf8",
    });
    await db.open();
    return new MarketJournal(db, opts);
  }

  /**
   * Builds the core: from the newest sound snapshot, then every entry after it, in order.
   * @throws MarketError `JOURNAL_CORRUPT` when entries were pruned and no snapshot that
   *   covers them can be read (starting empty would lose acknowledged state), or an entry
   *   does not decode.
   */
  async load(config: MarketConfig): Promise<{ core: MarketCore; stats: LoadStats }> {
    const manifests: SnapshotManifest[] = [];
    const damaged: string[] = [];
    for await (const [k, v] of this.db.iterator({ gte: "s:", lt: "s;" })) {
      const m = parseManifest(v);
      if (m.ok && manifestKey(m.value.seq) === k) manifests.push(m.value);
      else damaged.push(k);
    }
    manifests.sort((a, b) => a.seq - b.seq);
    const prunedRaw = await this.db.get(PRUNED_KEY);
    const pruned = prunedRaw === undefined ? -1 : Number.parseInt(prunedRaw, 16);

    let core: MarketCore | undefined;
    let snapshotSeq = -1;
    while (manifests.length > 0) {
      const m = manifests.at(-1)!;
      const image = decodeSnapshot(m, await this.readChunks(m));
      if (image.ok) {
        core = MarketCore.fromImage(config, image.value);
        snapshotSeq = m.seq;
        break;
      }
      damaged.push(manifestKey(m.seq));
      manifests.pop();
    }
    this.snapshots = manifests.map((m) => m.seq);
    if (snapshotSeq < pruned) {
      throw new MarketError(
        "JOURNAL_CORRUPT",
        `entries up to ${pruned} were pruned and no snapshot covering them can be read`,
      );
    }
    // A damaged snapshot is of no further use; an older one (or the entries) stood in for it.
    for (const k of damaged) {
      const seqHex = k.slice(2);
      await this.db.clear({ gte: `t:${seqHex}:`, lt: `t:${seqHex};` });
      await this.db.del(k);
    }
    core ??= new MarketCore(config);
    let replayed = 0;
    this.seq = snapshotSeq + 1;
    const from = snapshotSeq < 0 ? FIRST_ENTRY : entryKey(snapshotSeq + 1);
    for await (const [k, v] of this.db.iterator({ gte: from, lte: LAST_ENTRY })) {
      const e = readEntry(k, v);
      try {
        core.apply(e.cmd, e.now);
      } catch (err) {
        // The core refuses bad commands with a value; throwing means the entry was mangled.
        throw new MarketError(
          "JOURNAL_CORRUPT",
          `journal entry ${k} does not apply: ${String(err)}`,
        );
      }
      this.seq = Number.parseInt(k, 16) + 1;
      replayed++;
    }
    this.applied = this.seq;
    this.core = core;
    this.sinceSnapshot = replayed;
    if (this.snapshotIntervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.sinceSnapshot > 0) this.snapshotInBackground();
      }, this.snapshotIntervalMs);
      this.timer.unref();
    }
    return { core, stats: { snapshotSeq, replayed, damagedSnapshots: damaged.length } };
  }

  private async readChunks(m: SnapshotManifest): Promise<(Uint8Array | undefined)[]> {
    const keys = Array.from({ length: m.chunks }, (_, i) => chunkKey(m.seq, i));
    if (keys.length === 0) return [];
    return this.db.getMany<string, Uint8Array>(keys, { valueEncoding: "view" });
  }

  /**
   * Journals a command at time `now`; once it is on disk, runs `apply` with its sequence
   * number (in sequence order with every other recorded command) and resolves with its result.
   * @throws whatever the write threw; `apply` did not run then.
   */
  record<T>(cmd: MarketCommand, now: number, apply: (seq: number) => T): Promise<T> {
    if (this.closed) return Promise.reject(new MarketError("UNAVAILABLE", "the journal is closed"));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({
        seq: this.seq++,
        now,
        cmd,
        apply,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  /** Deletes the entry of a command the core refused (it changed nothing). */
  forget(seq: number): void {
    this.forgotten.push({ type: "del", key: entryKey(seq) });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Writes what is pending, one batch at a time, and applies it in order once durable. */
  private async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.pending.length === 0 && this.forgotten.length === 0) return;
    const batch = this.pending;
    const ops: Op[] = this.forgotten;
    this.pending = [];
    this.forgotten = [];
    for (const p of batch)
      ops.push({ type: "put", key: entryKey(p.seq), value: encode({ cmd: p.cmd, now: p.now }) });
    let done!: () => void;
    this.writing = new Promise<void>((r) => {
      done = r;
    });
    try {
      await this.db.batch<string, string | Uint8Array>(ops, { sync: true });
    } catch (err) {
      // Not durable, so not applied: the callers hear of it, and later entries keep their
      // order (a gap in sequence numbers is harmless to replay).
      for (const p of batch) p.reject(err);
      this.writing = undefined;
      done();
      return;
    }
    for (const p of batch) {
      try {
        p.resolve(p.apply(p.seq));
      } catch (err) {
        p.reject(err);
      }
      this.applied = p.seq + 1;
      this.sinceSnapshot++;
    }
    this.writing = undefined;
    done();
    if (this.snapshotEvery > 0 && this.sinceSnapshot >= this.snapshotEvery)
      this.snapshotInBackground();
  }

  private snapshotInBackground(): void {
    if (this.snapshotting || !this.core) return;
    this.snapshotting = this.snapshot()
      .catch((err: unknown) => {
        // A failed snapshot loses nothing (the entries are still there); say so and go on.
        process.emitWarning(`market snapshot failed: ${String(err)}`, "MarketJournalWarning");
      })
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /**
   * Writes a snapshot of the core as it stands (every applied entry), then prunes what the
   * snapshot before it covered. Resolves once the snapshot is on disk.
   */
  async snapshot(): Promise<void> {
    const core = this.core;
    if (!core) throw new MarketError("UNAVAILABLE", "the journal is not loaded");
    // The image is taken synchronously, so it holds exactly the entries applied so far.
    const seq = this.applied - 1;
    if (seq < 0 || this.snapshots.at(-1) === seq) return;
    const covered = this.sinceSnapshot;
    const snap = encodeSnapshot(seq, core.image());
    const ops: Op[] = snap.chunks.map((c, i) => ({
      type: "put",
      key: chunkKey(seq, i),
      value: c,
      valueEncoding: "view",
    }));
    ops.push({ type: "put", key: manifestKey(seq), value: JSON.stringify(snap.manifest) });
    await this.db.batch<string, string | Uint8Array>(ops, { sync: true });
    this.sinceSnapshot = Math.max(0, this.sinceSnapshot - covered);
    this.snapshots.push(seq);
    await this.prune();
  }

  /** Keeps the newest two snapshots and the entries after the older of them. */
  private async prune(): Promise<void> {
    if (this.snapshots.length < 2) return;
    const keep = this.snapshots.slice(-2);
    const drop = this.snapshots.slice(0, -2);
    const older = keep[0]!;
    // Record the cut before making it: a restart then knows what only a snapshot can restore.
    await this.db.put(PRUNED_KEY, hex16(older), { sync: true });
    await this.db.clear({ gte: FIRST_ENTRY, lte: entryKey(older) });
    for (const s of drop) {
      await this.db.clear({ gte: `t:${hex16(s)}:`, lt: `t:${hex16(s)};` });
      await this.db.del(manifestKey(s));
    }
    this.snapshots = keep;
  }

  /** Waits for pending writes, snapshots what changed since the last one, and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    while (this.writing) await this.writing;
    if (this.forgotten.length > 0) await this.flush();
    if (this.snapshotting) await this.snapshotting;
    if (this.snapshotOnClose && this.core && this.sinceSnapshot > 0) await this.snapshot();
    await this.db.close();
  }
}
