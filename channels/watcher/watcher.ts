/**
 * The dispute machine's shell: reads the settlement feed from the last processed block,
 * persists what it learned, then carries out the machine's effects through `settlement.send`:
 * better proofs while a window runs, the settle when it ends, and the closes asked of it. It
 * survives restarts (state and cursor in level) and RPC outages: every request is bounded by the
 * backend's timeout and retries, a failed poll changes nothing and is an `error` event, and the
 * next poll starts again from the saved cursor.
 */
import { EventEmitter } from "node:events";
import { ChannelError } from "../errors.ts";
import type { ClosedChannelTx, SettlementBackend, SettlementTx } from "../settlement/backend.ts";
import type { SignedPaymentProof } from "../settlement/payment-proof.ts";
import type { ChannelId } from "../types.ts";
import {
  initialWatcherState,
  type WatcherEffect,
  type WatcherInput,
  type WatcherState,
  watcherTransition,
} from "./core.ts";
import { WatcherStore } from "./store.ts";

/** Options of {@link startWatcher}. */
export interface WatcherOptions {
  /** The chain, through the settlement interface, acting for the account watched. */
  readonly settlement: SettlementBackend;
  /** Directory of the watcher's level database. */
  readonly dir: string;
  /** Our best proof received from the partner of a channel, if any. */
  readonly partnerProof: (
    channelId: ChannelId,
  ) => SignedPaymentProof | undefined | Promise<SignedPaymentProof | undefined>;
  /** First block to read on a new store (default: the current head). */
  readonly fromBlock?: number;
  readonly pollIntervalMs?: number;
}

/**
 * Events: `closed` (partner closed), `updated` (we sent a better proof), `settled` (paid out),
 * `error` (a poll or effect failed).
 */
export class Watcher extends EventEmitter {
  readonly #opts: WatcherOptions;
  readonly #settlement: SettlementBackend;
  readonly #store: WatcherStore;
  #state: WatcherState;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  /** Polls and actions run one at a time, each on the state the previous one left. */
  #tail: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    opts: WatcherOptions,
    settlement: SettlementBackend,
    store: WatcherStore,
    state: WatcherState,
  ) {
    super();
    this.#opts = opts;
    this.#settlement = settlement;
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
    this.#polling ??= this.#exclusive(() => this.#pollOnce())
      .catch((err: unknown) => {
        this.emit("error", err);
      })
      .finally(() => {
        this.#polling = undefined;
      });
    return this.#polling;
  }

  /**
   * Closes `channelId` unilaterally with the partner's best proof; the machine then answers and
   * settles as for any close.
   * @throws ChannelError CHANNEL_NOT_OPEN (not a known open channel of ours), CHANNEL_CLOSED
   *   (closing, or a close already sent); SettlementError when the chain refuses.
   */
  close(channelId: ChannelId): Promise<ClosedChannelTx> {
    return this.#exclusive(async () => {
      const proof = (await this.#opts.partnerProof(channelId)) ?? null;
      return this.#act({ type: "ActionClose", channelId, partnerProof: proof }, "close");
    }) as Promise<ClosedChannelTx>;
  }

  /**
   * Settles `channelId` now, if its window has ended by the chain's clock.
   * @throws ChannelError CHANNEL_NOT_CLOSED, SETTLE_TOO_EARLY; SettlementError when the chain refuses.
   */
  settle(channelId: ChannelId): Promise<SettlementTx | undefined> {
    return this.#exclusive(async () => {
      const { time } = await this.#settlement.now();
      return this.#act({ type: "ActionSettle", channelId, now: time }, "settle");
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling;
    await this.#tail.catch(() => undefined);
    await this.#store.close();
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #pollOnce(): Promise<void> {
    const settlement = this.#settlement;
    const now = await settlement.now();
    let state = this.#state;
    const effects: WatcherEffect[] = [];
    const apply = (input: WatcherInput) => {
      const out = watcherTransition(state, input);
      state = out.state;
      effects.push(...out.effects);
    };
    for await (const event of settlement.events(state.cursor, now.block)) apply(event);
    const partnerProofs = new Map<ChannelId, SignedPaymentProof>();
    for (const ch of state.channels.values()) {
      if (ch.status !== "closing") continue;
      const proof = await this.#opts.partnerProof(ch.channelId);
      if (proof) partnerProofs.set(ch.channelId, proof);
    }
    // Windows end by the clock of the block that would settle them: the next one, not the
    // latest (on a chain that mines only on transactions, the latest may never move again).
    apply({ type: "ActionTick", now: now.time, partnerProofs });
    // What we learned is durable before we act on it.
    await this.#store.save(state);
    this.#state = state;
    for (const effect of effects) {
      try {
        await this.#carryOut(effect);
      } catch (err) {
        this.emit("error", err);
      }
    }
  }

  /** Runs a local action through the machine and carries out its one effect. */
  async #act(
    input: WatcherInput,
    what: "close" | "settle",
  ): Promise<SettlementTx | ClosedChannelTx | undefined> {
    const out = watcherTransition(this.#state, input);
    this.#state = out.state;
    let tx: SettlementTx | undefined;
    for (const effect of out.effects) {
      if (effect.type === "NotifyActionRejected") {
        throw new ChannelError(effect.code, `${what} ${effect.channelId}: ${effect.reason}`, {
          channelId: effect.channelId,
        });
      }
      tx = await this.#carryOut(effect);
    }
    return tx;
  }

  /** Carries out one effect; a failed send clears its pending mark and rethrows. */
  async #carryOut(effect: WatcherEffect): Promise<SettlementTx | undefined> {
    switch (effect.type) {
      case "NotifyPartnerClosed":
        this.emit("closed", effect.channelId, effect.finalizesAt);
        return undefined;
      case "NotifySettled":
        this.emit("settled", effect.channelId);
        return undefined;
      case "NotifyActionRejected":
        return undefined;
      case "ChainSendClose":
      case "ChainSendUpdateProof":
      case "ChainSendSettle": {
        let tx: SettlementTx;
        try {
          tx = await this.#settlement.send(effect);
        } catch (err) {
          this.#state = watcherTransition(this.#state, {
            type: "ActionEffectFailed",
            channelId: effect.channelId,
            effect:
              effect.type === "ChainSendClose"
                ? "close"
                : effect.type === "ChainSendUpdateProof"
                  ? "update"
                  : "settle",
          }).state;
          throw err;
        }
        if (effect.type === "ChainSendUpdateProof") {
          this.emit("updated", effect.channelId, effect.signed.proof, tx);
        }
        return tx;
      }
    }
  }
}

/**
 * Opens the watcher's store in `opts.dir` (resuming from its saved block) and returns a watcher;
 * call `start()` to poll, or `poll()` to run one round.
 * @throws Error when the store belongs to another account.
 * @example
 * const watcher = await startWatcher({ settlement, dir: "./data/watcher", partnerProof: (id) => store.latestReceived(id) });
 * watcher.on("updated", (id) => console.log("disputed", id)).start();
 */
export async function startWatcher(opts: WatcherOptions): Promise<Watcher> {
  const { settlement } = opts;
  const store = await WatcherStore.open(opts.dir);
  const me = await settlement.account();
  let state: WatcherState | undefined;
  try {
    state = await store.load(me);
  } catch (err) {
    await store.close();
    throw err;
  }
  if (!state) {
    const from = opts.fromBlock ?? (await settlement.now()).block;
    state = initialWatcherState(me, from - 1);
  }
  return new Watcher(opts, settlement, store, state);
}
