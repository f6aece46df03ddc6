/**
 * The dispute watcher: the one dispute machine (follows the settlement feed, answers stale closes,
 * settles when windows end, closes on request) and its shell, which persists and resumes.
 */
export type {
  ActionClose,
  ActionEffectFailed,
  ActionSettle,
  ActionTick,
  NotifyActionRejected,
  NotifyPartnerClosed,
  NotifySettled,
  WatchedChannel,
  WatcherEffect,
  WatcherInput,
  WatcherState,
} from "./core.ts";
export { initialWatcherState, watcherTransition } from "./core.ts";
export { readChannelHistory } from "./history.ts";
export { WatcherStore } from "./store.ts";
export type { WatcherOptions } from "./watcher.ts";
export { startWatcher, Watcher } from "./watcher.ts";
