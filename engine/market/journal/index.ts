/** The market's write-ahead journal in level, with snapshots; loaded on start. */
export {
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  type JournalEntry,
  type JournalOptions,
  type LoadStats,
  MarketJournal,
} from "./market-journal.ts";
export type { SnapshotManifest } from "./snapshot-codec.ts";
