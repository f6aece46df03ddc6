/**
 * Key layout, schema version and migrations of the channel store.
 *
 * Keys (utf8): `m/magic`, `m/version`; per channel `c/<id>` (channel record), `r/<id>` (latest
 * proof received), `s/<id>` (latest proof sent), where `<id>` is the 64 hex digits of the id.
 * Each key is overwritten in place, so a channel costs O(1) space however many proofs it sees.
 */
import type { ClassicLevel } from "classic-level";
import type { ChannelId } from "../types.ts";

/** Identifies a tollway channel store (a level database of anything else is foreign). */
export const STORE_MAGIC = "tollway/channels";
/** The schema version this code writes. */
export const SCHEMA_VERSION = 1;

/** Meta keys. */
export const KEY_MAGIC = "m/magic";
export const KEY_VERSION = "m/version";

/** The channel-record key of a channel. */
export const channelKey = (id: ChannelId): string => `c/${id.slice(2)}`;
/** The received-proof key of a channel. */
export const receivedKey = (id: ChannelId): string => `r/${id.slice(2)}`;
/** The sent-proof key of a channel. */
export const sentKey = (id: ChannelId): string => `s/${id.slice(2)}`;

/** The database type of the store. */
export type StoreDb = ClassicLevel<string, Uint8Array>;

/**
 * One schema step: `up` rewrites the data of version `from` into version `from + 1`. The store
 * writes the new version number after `up` resolves, so an interrupted migration re-runs (write
 * migrations to be idempotent).
 */
export interface Migration {
  readonly from: number;
  readonly up: (db: StoreDb) => Promise<void>;
}

/** Migrations shipped with this code, oldest first (none yet: version 1 is the first schema). */
export const MIGRATIONS: readonly Migration[] = [];
