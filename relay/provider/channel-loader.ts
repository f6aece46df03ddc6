/**
 * The provider's channels: the table of channel entries it serves, loaded from memory, the store
 * or the directory (behind its negative cache, directory-cache.ts), with deposits brought up to
 * date before each new session. Resolving the channel an OPEN names happens in `#resolve` and
 * nowhere else.
 */
import {
  type Address,
  type ChannelDomain,
  type ChannelId,
  type ChannelState,
  type ChannelStore,
  createChannel,
  syncDeposits,
  type TransitionContext,
} from "../../channels/index.ts";
import type { RelayResult } from "../errors.ts";
import type { OpenFrame } from "../wire/frames.ts";
import type { ChannelDirectory, ChannelInfo } from "./channel-directory.ts";
import type { Connection, OwnedChannel } from "./connection.ts";
import type { DebtLedger } from "./debt-ledger.ts";
import { cachedDirectory, type DirectoryCacheLimits } from "./directory-cache.ts";
import type { PipelineChannel } from "./proof-pipeline.ts";
import type { SessionEntry } from "./session-runner.ts";

/** One channel the node serves: its state, what of it is durable, its owner and session. */
export interface ChannelEntry extends OwnedChannel, PipelineChannel {
  state: ChannelState;
  durableNonce: bigint;
  durableTransferred: bigint;
  /** The channel's billed mark (see debt-ledger.ts): the debt is what it exceeds durable by. */
  billedTo: bigint;
  owner: Connection | null;
  session: SessionEntry | null;
}

/** What a `ChannelLoader` needs. */
export interface ChannelLoaderOptions {
  /** The provider's address (participant B of every channel). */
  readonly provider: Address;
  readonly domain: ChannelDomain;
  readonly store: ChannelStore;
  /** Where the billed marks are kept. */
  readonly ledger: DebtLedger;
  /** Where channels are looked up; every lookup goes through the cache in front of it. */
  readonly directory: ChannelDirectory;
  readonly cacheLimits: DirectoryCacheLimits;
  /** Milliseconds, monotonic (for the cache). */
  readonly clock: () => number;
  /** A transition context (time, block, signer). */
  ctx(): TransitionContext;
}

/** The channel table of one provider node. */
export class ChannelLoader {
  readonly #opts: ChannelLoaderOptions;
  readonly #directory: ChannelDirectory;
  readonly #channels = new Map<ChannelId, ChannelEntry>();

  constructor(opts: ChannelLoaderOptions) {
    this.#opts = opts;
    this.#directory = cachedDirectory(opts.directory, opts.cacheLimits, opts.clock);
  }

  /** Channels in the table. */
  get size(): number {
    return this.#channels.size;
  }

  /** A channel's entry, if it is in the table. */
  get(channelId: ChannelId): ChannelEntry | undefined {
    return this.#channels.get(channelId);
  }

  /** The entry of a channel `conn` owns (it may pay on it), or undefined. */
  ownedBy(conn: Connection, channelId: ChannelId): ChannelEntry | undefined {
    const entry = this.#channels.get(channelId);
    return entry !== undefined && entry.owner === conn ? entry : undefined;
  }

  /** The durable view of a channel, from the table or else from the store. */
  async loadState(channelId: ChannelId): Promise<ChannelState | undefined> {
    return this.#channels.get(channelId)?.state ?? (await this.#opts.store.loadChannel(channelId));
  }

  /** Whether `requester` has a channel in the table. */
  hasChannelOf(requester: Address): boolean {
    const a = requester.toLowerCase();
    for (const entry of this.#channels.values()) {
      if (entry.state.params.participantA.toLowerCase() === a) return true;
    }
    return false;
  }

  /**
   * The entry of the channel an OPEN names (from the table, the store, or new), its deposits
   * brought up to the directory's and persisted.
   * @returns the entry, or the directory's refusal (CHANNEL_UNKNOWN, CHANNEL_NOT_PARTICIPANT,
   *   DIRECTORY_BUSY), CHANNEL_NOT_PARTICIPANT (another requester's), CHANNEL_CLOSED
   * @throws ChannelError STORE_* when the store cannot read or write
   */
  async load(requester: Address, frame: OpenFrame): Promise<RelayResult<ChannelEntry>> {
    const found = await this.#resolve(requester, frame);
    if (!found.ok) return found;
    const info = found.value;
    const channelId = frame.channelId;
    let entry = this.#channels.get(channelId);
    if (entry === undefined) {
      entry = await this.#entryOf(channelId, requester, info);
      this.#channels.set(channelId, entry);
    }
    if (entry.state.params.participantA !== requester.toLowerCase()) {
      return { ok: false, code: "CHANNEL_NOT_PARTICIPANT", reason: "not your channel" };
    }
    // Top-ups happen on chain at any time.
    const before = entry.state;
    const s = syncDeposits(before, info, this.#opts.ctx()).state;
    if (s !== before) {
      entry.state = s;
      await this.#opts.store.persist(before.status === "opening" ? undefined : before, s);
    }
    if (s.status !== "open" || s.settlement !== null) {
      return { ok: false, code: "CHANNEL_CLOSED", reason: `channel is ${s.status}` };
    }
    return { ok: true, value: entry };
  }

  /** What the directory says of the channel an OPEN names. */
  #resolve(requester: Address, frame: OpenFrame): Promise<RelayResult<ChannelInfo>> {
    return this.#directory.lookup({
      channelId: frame.channelId,
      requester,
      provider: this.#opts.provider,
      salt: frame.salt,
      openBlock: frame.openBlock,
    });
  }

  /** A new entry: the stored channel, or a fresh one, with its billed mark. */
  async #entryOf(
    channelId: ChannelId,
    requester: Address,
    info: ChannelInfo,
  ): Promise<ChannelEntry> {
    const { store, ledger, domain, provider } = this.#opts;
    const state =
      (await store.loadChannel(channelId)) ??
      createChannel({
        channelId,
        domain,
        participantA: requester,
        participantB: provider,
        self: "B",
        settleTimeout: BigInt(info.settleWindow),
      });
    const received = state.received?.proof;
    // A channel never billed here owes nothing and has no credit either.
    const billedTo = (await ledger.billedTo(channelId)) ?? received?.transferred ?? 0n;
    return {
      state,
      durableNonce: received?.nonce ?? 0n,
      durableTransferred: received?.transferred ?? 0n,
      billedTo,
      owner: null,
      session: null,
    };
  }
}
