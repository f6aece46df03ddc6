/**
 * The dispute watcher's shell: polls the contract's events from the last processed block,
 * persists what it learned, then submits better proofs and settles when windows end. It survives
 * restarts (state and cursor in level) and RPC outages: every request is bounded by the chain
 * client's timeout and retries, a failed poll changes nothing and is an `error` event, and the
 * next poll starts again from the saved cursor.
 */
import { EventEmitter } from "node:events";
import type { ChainClient } from "../chain/client.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { ChannelId } from "../types.ts";
import {
  initialWatcherState,
  type WatcherEffect,
  type WatcherInput,
  type WatcherState,
  watcherTransition,
} from "./core.ts";
import { decodeChannelLog } from "./decode.ts";
import { WatcherStore } from "./store.ts";

/** Options of {@link startWatcher}. */
export interface WatcherOptions {
  readonly chain: ChainClient;
  /** Directory of the watcher's level database. */
  readonly dir: string;
  /** Our best proof received from the partner of a channel, if any. */
  readonly partnerProof: (
    channelId: ChannelId,
  ) => SignedBalanceProof | undefined | Promise<SignedBalanceProof | undefined>;
  /** First block to read on a new store (default: the current head). */
  readonly fromBlock?: number;
  readonly pollIntervalMs?: number;
  /** Most blocks per getLogs request. */
  readonly maxBlockRange?: number;
}

/** Events: `closed` (partner closed), `updated` / `settled` (we sent it), `error` (a poll or effect failed). */
export class Watcher extends EventEmitter {
  readonly #opts: WatcherOptions;
  readonly #store: WatcherStore;
  #state: WatcherState;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: WatcherOptions, store: WatcherStore, state: WatcherState) {
    super();
    this.#opts = opts;
    this.#store = store;
    this.#state = state;
  }

  /** The current state (for inspection). */
  get state(): WatcherState {
    return this.#state;
  }

  /** Polls every `pollIntervalMs` until {@link stop}. */
  start(): this {
    const every = this.#opts.pollIntervalMs ?? 1_000;
    const loop = () => {
      if (this.#stopped) return;
      this.poll().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, every);
      });
    };
    loop();
    return this;
  }

  /** One round: read new events, persist, act. Never rejects; failures are `error` events. */
  poll(): Promise<void> {
    this.#polling ??= this.#pollOnce()
      .catch((err: unknown) => {
        this.emit("error", err);
      })
      .finally(() => {
        this.#polling = undefined;
      });
    return this.#polling;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling;
    await this.#store.close();
  }

  async #pollOnce(): Promise<void> {
    const chain = this.#opts.chain;
    const time = await chain.chainTime();
    let state = this.#state;
    const effects: WatcherEffect[] = [];
    const apply = (input: WatcherInput) => {
      const out = watcherTransition(state, input);
      state = out.state;
      effects.push(...out.effects);
    };
    const range = this.#opts.maxBlockRange ?? 2_000;
    for (let from = state.cursor + 1; from <= time.latestBlock; from += range) {
      const to = Math.min(time.latestBlock, from + range - 1);
      const logs = await chain.channelLogs(from, to);
      for (const log of logs) {
        const input = decodeChannelLog(chain.contract.interface, log);
        if (input) apply(input);
      }
      apply({ type: "ChainBlock", block: to });
    }
    const partnerProofs = new Map<ChannelId, SignedBalanceProof>();
    for (const ch of state.channels.values()) {
      if (ch.status !== "closing") continue;
      const proof = await this.#opts.partnerProof(ch.channelId);
      if (proof) partnerProofs.set(ch.channelId, proof);
    }
    // Windows end by the clock of the block that would settle them: the next one, not the
    // latest (on a chain that mines only on transactions, the latest may never move again).
    apply({ type: "ActionTick", now: time.nextTimestamp, partnerProofs });
    // What we learned is durable before we act on it.
    await this.#store.save(state);
    this.#state = state;
    for (const effect of effects) await this.#carryOut(effect);
  }

  async #carryOut(effect: WatcherEffect): Promise<void> {
    const chain = this.#opts.chain;
    switch (effect.type) {
      case "NotifyPartnerClosed":
        this.emit("closed", effect.channelId, effect.finalizesAt);
        return;
      case "NotifySettled":
        this.emit("settled", effect.channelId);
        return;
      case "ChainSendUpdateProof":
        try {
          const tx = await chain.updateProof(
            effect.channelId,
            effect.closing,
            effect.ofB,
            effect.signed,
          );
          this.emit("updated", effect.channelId, effect.signed.proof, tx);
        } catch (err) {
          this.#state = watcherTransition(this.#state, {
            type: "ActionEffectFailed",
            channelId: effect.channelId,
            effect: "update",
          }).state;
          this.emit("error", err);
        }
        return;
      case "ChainSendSettle":
        try {
          await chain.settle(effect.channelId, effect.closing);
        } catch (err) {
          this.#state = watcherTransition(this.#state, {
            type: "ActionEffectFailed",
            channelId: effect.channelId,
            effect: "settle",
          }).state;
          this.emit("error", err);
        }
        return;
    }
  }
}

/**
 * Opens the watcher's store in `opts.dir` (resuming from its saved block) and returns a watcher;
 * call `start()` to poll, or `poll()` to run one round.
 * @example
 * const watcher = await startWatcher({ chain, dir: "./data/watcher", partnerProof: (id) => store.latestReceived(id) });
 * watcher.on("updated", (id) => console.log("disputed", id)).start();
 */
export async function startWatcher(opts: WatcherOptions): Promise<Watcher> {
  const store = await WatcherStore.open(opts.dir);
  const me = await opts.chain.address();
  let state: WatcherState | undefined;
  try {
    state = await store.load(me);
  } catch (err) {
    await store.close();
    throw err;
  }
  if (!state) {
    const from = opts.fromBlock ?? (await opts.chain.blockNumber());
    state = initialWatcherState(me, from - 1);
  }
  return new Watcher(opts, store, state);
}
