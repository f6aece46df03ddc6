/**
 * The provider's channels: the table of channel entries it serves, loaded from memory or the
 * store, and found through the settlement backend (behind its negative cache, directory-cache.ts),
 * with deposits brought up to date before each new session. Resolving the channel an OPEN names
 * happens in `#resolve` and nowhere else.
 */
import {
  type Address,
  type ChannelDomain,
  type ChannelId,
  type ChannelState,
  type ChannelStore,
  createChannel,
  type ResolvedChannel,
  type SettlementBackend,
  syncDeposits,
  type TransitionContext,
} from "../../channels/index.ts";
import type { RelayResult } from "../errors.ts";
import type { OpenFrame } from "../wire/frames.ts";
import type { Connection, OwnedChannel } from "./connection.ts";
import type { DebtLedger } from "./debt-ledger.ts";
import {
  type CachedDirectory,
  cachedDirectory,
  type DirectoryCacheLimits,
} from "./directory-cache.ts";
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
  readonly settlement: Pick<SettlementBackend, "resolve">;
  readonly cacheLimits: DirectoryCacheLimits;
  /** Milliseconds, monotonic (for the cache). */
  readonly clock: () => number;
  /** A transition context (time, block, signer). */
  ctx(): TransitionContext;
}

/** The channel table of one provider node. */
export class ChannelLoader {
  readonly #opts: ChannelLoaderOptions;
  readonly #directory: CachedDirectory;
  readonly #channels = new Map<ChannelId, ChannelEntry>();
  /** The opener of every channel in the table, lowercase. */
  readonly #payers = new Set<string>();

  constructor(opts: ChannelLoaderOptions) {
    this.#opts = opts;
    this.#directory = cachedDirectory(opts.settlement, opts.cacheLimits, opts.clock);
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

  /** Whether `requester` has a channel in the table (asked at every AUTH: no scan of the table). */
  hasChannelOf(requester: Address): boolean {
    return this.#payers.has(requester.toLowerCase());
  }

  /**
   * The entry of the channel an OPEN names (from the table, the store, or new), its deposits
   * brought up to the chain's and persisted.
   * @returns the entry, or CHANNEL_UNKNOWN (not open), CHANNEL_REF_INVALID (not a reference of
   *   this backend, or of another channel), CHANNEL_NOT_PARTICIPANT (not from this requester to
   *   this provider), DIRECTORY_BUSY, CHANNEL_CLOSED
   * @throws ChannelError STORE_* when the store cannot read or write; the backend's errors when
   *   it cannot reach its chain
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
      this.#payers.add(entry.state.params.participantA.toLowerCase());
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

  /**
   * The open channel an OPEN's reference names, if it is the channel the OPEN names and runs
   * from `requester` (A) to this provider (B): the backend binds reference, id and participants.
   */
  async #resolve(requester: Address, frame: OpenFrame): Promise<RelayResult<ResolvedChannel>> {
    const found = await this.#directory.resolve(frame.ref);
    if (!found.ok) return found;
    const c = found.value;
    if (c.channelId !== frame.channelId) {
      return {
        ok: false,
        code: "CHANNEL_REF_INVALID",
        reason: "the reference names another channel",
      };
    }
    if (
      c.a.toLowerCase() !== requester.toLowerCase() ||
      c.b.toLowerCase() !== this.#opts.provider.toLowerCase()
    ) {
      return {
        ok: false,
        code: "CHANNEL_NOT_PARTICIPANT",
        reason: "the channel does not run from you to this provider",
      };
    }
    return found;
  }

  /** A new entry: the stored channel, or a fresh one, with its billed mark. */
  async #entryOf(
    channelId: ChannelId,
    requester: Address,
    info: ResolvedChannel,
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
