/**
 * Durable channel store on LevelDB (classic-level), with group commit.
 *
 * Every write goes into the open batch and returns that batch's promise. One batch is written at
 * a time, with `sync: true` (fsync); writes that arrive meanwhile gather in the next batch, so
 * under load one fsync covers many proofs across channels and a quiet store still commits at
 * once. Repeated writes of one key within a batch coalesce to the newest value (proofs are
 * cumulative). A promise resolves only once its batch is durable: that is when a proof counts as
 * accepted and may be acknowledged.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { ClassicLevel } from "classic-level";
import { ChannelError } from "../errors.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { ChannelState } from "../state/channel-state.ts";
import type { ChannelId } from "../types.ts";
import {
  decodeChannelRecord,
  decodeSignedProof,
  encodeChannelRecord,
  encodeSignedProof,
} from "./codec.ts";
import {
  channelKey,
  KEY_MAGIC,
  KEY_VERSION,
  MIGRATIONS,
  type Migration,
  receivedKey,
  SCHEMA_VERSION,
  STORE_MAGIC,
  type StoreDb,
  sentKey,
} from "./schema.ts";

/** Options of `ChannelStore.open`. */
export interface ChannelStoreOptions {
  /** Create the database when the directory is missing or empty (default true). */
  readonly createIfMissing?: boolean;
  /** Upper bound on operations in one batch (default 20,000). */
  readonly maxBatchOps?: number;
  /** Schema version to open at (tests only; default `SCHEMA_VERSION`). */
  readonly schemaVersion?: number;
  /** Migrations to use (tests only; default `MIGRATIONS`). */
  readonly migrations?: readonly Migration[];
}

/** Counters of the group commit, for benchmarks and monitoring. */
export interface StoreStats {
  /** Batches written. */
  readonly batches: number;
  /** Operations written (after coalescing). */
  readonly ops: number;
  /** Writes requested (before coalescing). */
  readonly writes: number;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let rejectFn!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    rejectFn = rej;
  });
  // A batch whose writers all dropped their promises must not crash the process on failure.
  promise.catch(() => undefined);
  return { promise, resolve, reject: rejectFn };
}

/**
 * The durable store of channels: per channel the latest proof received, the latest proof sent,
 * and the channel record (parameters, deposits, on-chain status, signed settlement).
 * @example
 * const store = await ChannelStore.open(".tollway/channels");
 * const { state: next } = transition(state, input, ctx);
 * await store.persist(state, next); // durable: now ACK
 */
export class ChannelStore {
  readonly #db: StoreDb;
  readonly #maxBatchOps: number;
  #pending = new Map<string, Uint8Array>();
  #current: Deferred | undefined;
  #writing = false;
  #scheduled = false;
  #failure: ChannelError | undefined;
  #closed = false;
  #stats = { batches: 0, ops: 0, writes: 0 };

  private constructor(db: StoreDb, maxBatchOps: number) {
    this.#db = db;
    this.#maxBatchOps = maxBatchOps;
  }

  /**
   * Opens (or creates) a store in `dir`, checking that it is a tollway store of a known schema
   * version and running migrations when it is older.
   * @throws ChannelError STORE_FOREIGN (not a tollway store: another level database, or a
   *   non-empty directory that is no database), STORE_CORRUPT (a database that will not open or
   *   whose meta records are damaged), STORE_LOCKED (open in another process),
   *   STORE_VERSION_UNSUPPORTED (newer schema, or no migration path), STORE_OPEN_FAILED.
   */
  static async open(dir: string, options: ChannelStoreOptions = {}): Promise<ChannelStore> {
    const createIfMissing = options.createIfMissing ?? true;
    const fresh = inspectDirectory(dir);
    if (fresh && !createIfMissing) {
      throw new ChannelError("STORE_OPEN_FAILED", "no channel store here", { dir });
    }
    const db: StoreDb = new ClassicLevel<string, Uint8Array>(dir, {
      keyEncoding: "utf8",
      valueEncoding: "view",
    });
    try {
      await db.open({ createIfMissing: fresh });
    } catch (err) {
      throw classifyOpenError(err, dir);
    }
    try {
      await checkSchema(
        db,
        dir,
        options.schemaVersion ?? SCHEMA_VERSION,
        options.migrations ?? MIGRATIONS,
      );
    } catch (err) {
      await db.close();
      throw err;
    }
    return new ChannelStore(db, Math.max(1, options.maxBatchOps ?? 20_000));
  }

  /** Group-commit counters so far. */
  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /**
   * Writes what changed between two states of a channel (proofs and/or channel record), in the
   * current group-commit batch. A channel's first write must be `persist(undefined, state)` (or
   * `putChannel`): proofs are found through the channel record when loading.
   * @param before - the state before the transition (undefined for a new channel)
   * @param after - the state after it
   * @returns a promise resolved once durable (at once when nothing changed)
   * @throws (rejects) ChannelError STORE_WRITE_FAILED, STORE_CLOSED
   */
  persist(before: ChannelState | undefined, after: ChannelState): Promise<void> {
    if (before === after) return Promise.resolve();
    const id = after.params.channelId;
    let p: Promise<void> | undefined;
    if (before === undefined || recordChanged(before, after)) {
      p = this.#write(channelKey(id), encodeChannelRecord(after));
    }
    if (after.received !== null && after.received !== before?.received) {
      p = this.#write(receivedKey(id), encodeSignedProof(after.received));
    }
    if (after.sent !== null && after.sent !== before?.sent) {
      p = this.#write(sentKey(id), encodeSignedProof(after.sent));
    }
    return p ?? Promise.resolve();
  }

  /** Writes a whole channel (record and both proofs); resolves once durable. */
  putChannel(state: ChannelState): Promise<void> {
    return this.persist(undefined, state);
  }

  /** Writes the latest proof received on a channel; resolves once durable. */
  putReceived(channelId: ChannelId, signed: SignedBalanceProof): Promise<void> {
    return this.#write(receivedKey(channelId), encodeSignedProof(signed));
  }

  /** Writes the latest proof sent on a channel; resolves once durable. */
  putSent(channelId: ChannelId, signed: SignedBalanceProof): Promise<void> {
    return this.#write(sentKey(channelId), encodeSignedProof(signed));
  }

  /**
   * Loads one channel, or undefined when unknown.
   * @throws ChannelError STORE_CORRUPT when a record cannot be decoded.
   */
  async loadChannel(channelId: ChannelId): Promise<ChannelState | undefined> {
    this.#assertOpen();
    const [rec, r, s] = await this.#db.getMany([
      channelKey(channelId),
      receivedKey(channelId),
      sentKey(channelId),
    ]);
    if (rec === undefined) return undefined;
    return assemble(channelId, rec, r, s);
  }

  /**
   * Loads every channel (to resume after a restart).
   * @throws ChannelError STORE_CORRUPT when a record cannot be decoded.
   */
  async loadAll(): Promise<ChannelState[]> {
    this.#assertOpen();
    const ids: ChannelId[] = [];
    const recs: Uint8Array[] = [];
    for await (const [key, value] of this.#db.iterator({ gte: "c/", lt: "c0" })) {
      ids.push(`0x${key.slice(2)}` as ChannelId);
      recs.push(value);
    }
    const r = await this.#db.getMany(ids.map(receivedKey));
    const s = await this.#db.getMany(ids.map(sentKey));
    return ids.map((id, i) => assemble(id, recs[i]!, r[i], s[i]));
  }

  /** Resolves once everything written so far is durable. */
  flush(): Promise<void> {
    if (this.#current !== undefined) return this.#current.promise;
    if (this.#writing) {
      return new Promise((resolve) => {
        const poll = () => (this.#writing ? setImmediate(poll) : resolve());
        poll();
      });
    }
    return Promise.resolve();
  }

  /** Commits what is pending, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => undefined);
    this.#closed = true;
    await this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ChannelError("STORE_CLOSED", "channel store is closed");
  }

  #write(key: string, value: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new ChannelError("STORE_CLOSED", "store closed"));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#stats.writes++;
    this.#pending.set(key, value);
    this.#current ??= deferred();
    const { promise } = this.#current;
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      // Yield one turn so that every write of this event-loop turn lands in the same batch.
      setImmediate(() => this.#commit());
    }
    return promise;
  }

  async #commit(): Promise<void> {
    this.#scheduled = false;
    if (this.#pending.size === 0 || this.#current === undefined) return;
    let entries = [...this.#pending];
    let done: Deferred;
    if (entries.length > this.#maxBatchOps) {
      // Oversized: write the first part now; the rest (and its waiters) stays pending.
      entries = entries.slice(0, this.#maxBatchOps);
      for (const [k] of entries) this.#pending.delete(k);
      done = deferred();
      const rest = this.#current;
      done.promise.then(
        () => undefined,
        (e) => rest.reject(e),
      );
    } else {
      this.#pending = new Map();
      done = this.#current;
      this.#current = undefined;
    }
    this.#writing = true;
    try {
      await this.#db.batch(
        entries.map(([key, value]) => ({ type: "put" as const, key, value })),
        { sync: true },
      );
      this.#stats.batches++;
      this.#stats.ops += entries.length;
      done.resolve();
    } catch (err) {
      // After a failed synced write we cannot know what reached the disk: refuse further writes
      // rather than acknowledge anything on a store in an unknown state.
      this.#failure = new ChannelError("STORE_WRITE_FAILED", "synced batch write failed", {}, err);
      done.reject(this.#failure);
      this.#current?.reject(this.#failure);
      this.#current = undefined;
      this.#pending.clear();
    } finally {
      this.#writing = false;
    }
    if (this.#pending.size > 0 && this.#failure === undefined) void this.#commit();
  }
}

function recordChanged(a: ChannelState, b: ChannelState): boolean {
  return (
    a.params !== b.params ||
    a.status !== b.status ||
    a.depositA !== b.depositA ||
    a.depositB !== b.depositB ||
    a.settlement !== b.settlement ||
    a.close !== b.close ||
    a.payouts !== b.payouts
  );
}

function assemble(
  id: ChannelId,
  rec: Uint8Array,
  r: Uint8Array | undefined,
  s: Uint8Array | undefined,
): ChannelState {
  const record = decodeChannelRecord(rec, channelKey(id));
  if (record.params.channelId !== id) {
    throw new ChannelError("STORE_CORRUPT", "channel record under the wrong key", {
      key: channelKey(id),
    });
  }
  return {
    ...record,
    received: r === undefined ? null : decodeSignedProof(id, r, receivedKey(id)),
    sent: s === undefined ? null : decodeSignedProof(id, s, sentKey(id)),
  };
}

/**
 * Classifies the target directory before LevelDB touches it.
 * @returns true when a new store may be created (missing or empty directory)
 * @throws ChannelError STORE_FOREIGN for a file, or a non-empty directory with no database.
 */
function inspectDirectory(dir: string): boolean {
  if (!existsSync(dir)) return true;
  if (!statSync(dir).isDirectory()) {
    throw new ChannelError("STORE_FOREIGN", "store path is not a directory", { dir });
  }
  const entries = readdirSync(dir);
  if (entries.length === 0) return true;
  // Never let LevelDB create a database inside someone else's files.
  if (!entries.includes("CURRENT")) {
    throw new ChannelError("STORE_FOREIGN", "directory holds files but no database", {
      dir,
      entries: entries.slice(0, 10),
    });
  }
  return false;
}

function classifyOpenError(err: unknown, dir: string): ChannelError {
  const text = `${String(err)} ${String((err as { cause?: unknown }).cause ?? "")}`;
  if (/lock/i.test(text)) {
    return new ChannelError("STORE_LOCKED", "store is open in another process", { dir }, err);
  }
  if (/corrupt|IO error|No such file|not a directory|invalid/i.test(text)) {
    return new ChannelError("STORE_CORRUPT", "database files are damaged", { dir }, err);
  }
  return new ChannelError("STORE_OPEN_FAILED", "cannot open the store", { dir }, err);
}

async function checkSchema(
  db: StoreDb,
  dir: string,
  target: number,
  migrations: readonly Migration[],
): Promise<void> {
  const [magicRaw, versionRaw] = await db.getMany([KEY_MAGIC, KEY_VERSION]);
  if (magicRaw === undefined) {
    // A brand-new database has no keys at all; anything else without our magic is foreign.
    for await (const _key of db.keys({ limit: 1 })) {
      throw new ChannelError("STORE_FOREIGN", "a level database, but not a tollway store", { dir });
    }
    await db.batch(
      [
        { type: "put", key: KEY_MAGIC, value: Buffer.from(STORE_MAGIC) },
        { type: "put", key: KEY_VERSION, value: Buffer.from(String(target)) },
      ],
      { sync: true },
    );
    return;
  }
  if (Buffer.from(magicRaw).toString("utf8") !== STORE_MAGIC) {
    throw new ChannelError("STORE_FOREIGN", "a level database of another application", { dir });
  }
  const versionText = versionRaw === undefined ? "" : Buffer.from(versionRaw).toString("utf8");
  if (!/^\d+$/.test(versionText)) {
    throw new ChannelError("STORE_CORRUPT", "schema version record is damaged", { dir });
  }
  let version = Number(versionText);
  if (version > target) {
    throw new ChannelError("STORE_VERSION_UNSUPPORTED", "store written by a newer version", {
      dir,
      version,
      supported: target,
    });
  }
  while (version < target) {
    const step = migrations.find((m) => m.from === version);
    if (step === undefined) {
      throw new ChannelError("STORE_VERSION_UNSUPPORTED", "no migration from this version", {
        dir,
        version,
        supported: target,
      });
    }
    await step.up(db);
    version += 1;
    await db.put(KEY_VERSION, Buffer.from(String(version)), { sync: true });
  }
}
