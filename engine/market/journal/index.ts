/** The market's write-ahead journal in level, with snapshots; loaded on start. */
export {
  type JournalEntry,
  type JournalOptions,
  type LoadStats,
  MarketJournal,
} from "./market-journal.ts";
export type { SnapshotManifest } from "./snapshot-codec.ts";
