/** Persists the watcher's cursor and channels in level, in one synced batch per poll. */
import { ClassicLevel } from "classic-level";
import { ChannelError } from "../errors.ts";
import type { Address, ChannelId } from "../types.ts";
import type { WatchedChannel, WatcherState } from "./core.ts";

const CURSOR = "cursor";
const ME = "me";
const CHANNEL = "ch:";

type Stored = Omit<WatchedChannel, "closePending" | "updatePendingNonce" | "settlePending">;

/** The watcher's level database. */
export class WatcherStore {
  readonly #db: ClassicLevel<string, string>;

  private constructor(db: ClassicLevel<string, string>) {
    this.#db = db;
  }

  /** Opens (or creates) the store in `dir`. */
  static async open(dir: string): Promise<WatcherStore> {
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: "utf8" });
    await db.open();
    return new WatcherStore(db);
  }

  /**
   * Loads the saved state; `undefined` when the store is new.
   * @throws ChannelError STORE_FOREIGN when the store belongs to another account.
   */
  async load(me: Address): Promise<WatcherState | undefined> {
    const owner = await this.#db.get(ME);
    if (owner === undefined) return undefined;
    if (owner !== me.toLowerCase()) {
      throw new ChannelError("STORE_FOREIGN", `this watcher store belongs to ${owner}, not ${me}`, {
        owner,
        me,
      });
    }
    const cursor = Number(await this.#db.get(CURSOR));
    const channels = new Map<ChannelId, WatchedChannel>();
    for await (const [, value] of this.#db.iterator({ gt: CHANNEL, lt: `${CHANNEL}\xff` })) {
      // Pending marks are not saved: an effect lost in a crash is simply decided again.
      const ch = JSON.parse(value, revive) as WatchedChannel;
      channels.set(ch.channelId, ch);
    }
    return { me: owner as Address, cursor, channels };
  }

  /** Writes the whole state durably (fsync) in one batch. */
  async save(state: WatcherState): Promise<void> {
    const batch = this.#db.batch();
    batch.put(ME, state.me);
    batch.put(CURSOR, String(state.cursor));
    const live = new Set<string>();
    for (const ch of state.channels.values()) {
      const { closePending: _c, updatePendingNonce: _u, settlePending: _s, ...stored } = ch;
      live.add(`${CHANNEL}${ch.channelId}`);
      batch.put(`${CHANNEL}${ch.channelId}`, JSON.stringify(stored satisfies Stored, replace));
    }
    for await (const key of this.#db.keys({ gt: CHANNEL, lt: `${CHANNEL}\xff` })) {
      if (!live.has(key)) batch.del(key);
    }
    await batch.write({ sync: true });
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

function replace(_key: string, value: unknown) {
  return typeof value === "bigint" ? { $bigint: value.toString() } : value;
}

function revive(_key: string, value: unknown) {
  return value && typeof value === "object" && "$bigint" in value
    ? BigInt((value as { $bigint: string }).$bigint)
    : value;
}
