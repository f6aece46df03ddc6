/** The market's write-ahead journal in level, replayed on start. */
export { type JournalEntry, MarketJournal } from "./market-journal.ts";
