/**
 * Durable channel store on LevelDB: latest proof sent and received per channel, channel records,
 * schema version and migrations, and group commit (a write resolves once its batch is synced).
 */
export type { ChannelStoreOptions, StoreStats } from "./channel-store.ts";
export { ChannelStore } from "./channel-store.ts";
export type { ChannelRecord } from "./codec.ts";
export {
  decodeChannelRecord,
  decodeSignedProof,
  encodeChannelRecord,
  encodeSignedProof,
} from "./codec.ts";
export type { Migration, StoreDb } from "./schema.ts";
export { MIGRATIONS, SCHEMA_VERSION, STORE_MAGIC } from "./schema.ts";
