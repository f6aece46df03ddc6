/** The dispute watcher: follows the contract, disputes stale closes, settles when windows end. */
export type { WatchedChannel, WatcherEffect, WatcherInput, WatcherState } from "./core.ts";
export { initialWatcherState, watcherTransition } from "./core.ts";
export { decodeChannelLog } from "./decode.ts";
export { readChannelHistory } from "./history.ts";
export { WatcherStore } from "./store.ts";
export type { WatcherOptions } from "./watcher.ts";
export { startWatcher, Watcher } from "./watcher.ts";
