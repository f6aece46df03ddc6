/**
 * The dispute watcher's pure core: it follows the contract's events for our channels, rebuilds
 * each closing channel's committed state, and decides when to submit a better proof and when to
 * settle. No I/O, no clock: the chain's time arrives in `ActionTick`, as the time the next block
 * will carry (the one that would carry our update or our settle).
 */
import type { ClosingState } from "../chain/types.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { Address, ChannelId } from "../types.ts";

/** What the watcher knows of one of our channels. */
export interface WatchedChannel {
  readonly channelId: ChannelId;
  readonly a: Address;
  readonly b: Address;
  /** True when we are B (the partner of the opener). */
  readonly weAreB: boolean;
  readonly depositA: bigint;
  readonly depositB: bigint;
  readonly status: "open" | "closing";
  /** The committed preimage while closing. */
  readonly closing?: ClosingState;
  readonly finalizesAt?: number;
  /** An update we sent and wait to see mined (its nonce); not persisted across restarts. */
  readonly updatePendingNonce?: bigint;
  readonly settlePending?: boolean;
}

export interface WatcherState {
  readonly me: Address;
  /** The last block whose events are applied. */
  readonly cursor: number;
  readonly channels: ReadonlyMap<ChannelId, WatchedChannel>;
}

export type WatcherInput =
  | {
      readonly type: "ChainChannelOpened";
      readonly channelId: ChannelId;
      readonly a: Address;
      readonly b: Address;
      readonly deposit: bigint;
    }
  | {
      readonly type: "ChainDeposited";
      readonly channelId: ChannelId;
      readonly forB: boolean;
      readonly total: bigint;
    }
  | {
      readonly type: "ChainChannelClosed";
      readonly channelId: ChannelId;
      readonly closer: Address;
      readonly nonce: bigint;
      readonly transferred: bigint;
      readonly finalizesAt: number;
    }
  | {
      readonly type: "ChainProofUpdated";
      readonly channelId: ChannelId;
      readonly ofB: boolean;
      readonly nonce: bigint;
      readonly transferred: bigint;
    }
  | { readonly type: "ChainChannelSettled"; readonly channelId: ChannelId }
  | { readonly type: "ChainBlock"; readonly block: number }
  | {
      readonly type: "ActionTick";
      /**
       * The time the next block will carry (Unix seconds): the pending block's timestamp, or the
       * clock where the node has none. Not the latest block's: on a chain that mines only on
       * transactions it stops while time goes on, and a window would never end.
       */
      readonly now: number;
      /** Our best proof from the partner, per closing channel. */
      readonly partnerProofs: ReadonlyMap<ChannelId, SignedBalanceProof>;
    }
  | {
      readonly type: "ActionEffectFailed";
      readonly channelId: ChannelId;
      readonly effect: "update" | "settle";
    };

export type WatcherEffect =
  | {
      readonly type: "ChainSendUpdateProof";
      readonly channelId: ChannelId;
      readonly closing: ClosingState;
      readonly ofB: boolean;
      readonly signed: SignedBalanceProof;
    }
  | {
      readonly type: "ChainSendSettle";
      readonly channelId: ChannelId;
      readonly closing: ClosingState;
    }
  | {
      readonly type: "NotifyPartnerClosed";
      readonly channelId: ChannelId;
      readonly finalizesAt: number;
    }
  | { readonly type: "NotifySettled"; readonly channelId: ChannelId };

/** A fresh state for account `me`, starting after block `cursor`. */
export function initialWatcherState(me: Address, cursor: number): WatcherState {
  return { me: me.toLowerCase() as Address, cursor, channels: new Map() };
}

/** Applies one input; returns the new state and what the shell must do. */
export function watcherTransition(
  state: WatcherState,
  input: WatcherInput,
): { state: WatcherState; effects: readonly WatcherEffect[] } {
  const none = { state, effects: [] as WatcherEffect[] };
  switch (input.type) {
    case "ChainChannelOpened": {
      const weAreA = input.a.toLowerCase() === state.me;
      const weAreB = input.b.toLowerCase() === state.me;
      if (!weAreA && !weAreB) return none;
      return put(state, {
        channelId: input.channelId,
        a: input.a,
        b: input.b,
        weAreB,
        depositA: input.deposit,
        depositB: 0n,
        status: "open",
      });
    }
    case "ChainDeposited": {
      const ch = state.channels.get(input.channelId);
      if (ch?.status !== "open") return none;
      return put(
        state,
        input.forB ? { ...ch, depositB: input.total } : { ...ch, depositA: input.total },
      );
    }
    case "ChainChannelClosed": {
      const ch = state.channels.get(input.channelId);
      if (ch?.status !== "open") return none;
      // The closer submitted its partner's proof; the closer's own side starts empty.
      const closerIsA = input.closer.toLowerCase() === ch.a.toLowerCase();
      const closing: ClosingState = {
        a: ch.a,
        b: ch.b,
        depositA: ch.depositA,
        depositB: ch.depositB,
        nonceA: closerIsA ? 0n : input.nonce,
        sentA: closerIsA ? 0n : input.transferred,
        nonceB: closerIsA ? input.nonce : 0n,
        sentB: closerIsA ? input.transferred : 0n,
      };
      const weClosed = input.closer.toLowerCase() === state.me;
      const next = put(state, {
        ...ch,
        status: "closing",
        closing,
        finalizesAt: input.finalizesAt,
      });
      return weClosed
        ? next
        : {
            state: next.state,
            effects: [
              {
                type: "NotifyPartnerClosed",
                channelId: ch.channelId,
                finalizesAt: input.finalizesAt,
              },
            ],
          };
    }
    case "ChainProofUpdated": {
      const ch = state.channels.get(input.channelId);
      if (!ch?.closing) return none;
      const closing = input.ofB
        ? { ...ch.closing, nonceB: input.nonce, sentB: input.transferred }
        : { ...ch.closing, nonceA: input.nonce, sentA: input.transferred };
      const { updatePendingNonce: _done, ...rest } = ch;
      return put(state, { ...rest, closing });
    }
    case "ChainChannelSettled": {
      if (!state.channels.has(input.channelId)) return none;
      const channels = new Map(state.channels);
      channels.delete(input.channelId);
      return {
        state: { ...state, channels },
        effects: [{ type: "NotifySettled", channelId: input.channelId }],
      };
    }
    case "ChainBlock":
      return input.block > state.cursor
        ? { state: { ...state, cursor: input.block }, effects: [] }
        : none;
    case "ActionTick":
      return tick(state, input.now, input.partnerProofs);
    case "ActionEffectFailed": {
      const ch = state.channels.get(input.channelId);
      if (!ch) return none;
      // Clear the pending mark so that the next tick tries again.
      return put(
        state,
        input.effect === "update"
          ? { ...ch, updatePendingNonce: undefined }
          : { ...ch, settlePending: false },
      );
    }
  }
}

function tick(
  state: WatcherState,
  now: number,
  partnerProofs: ReadonlyMap<ChannelId, SignedBalanceProof>,
): { state: WatcherState; effects: readonly WatcherEffect[] } {
  const effects: WatcherEffect[] = [];
  let channels: Map<ChannelId, WatchedChannel> | undefined;
  for (const ch of state.channels.values()) {
    if (ch.status !== "closing" || !ch.closing || ch.finalizesAt === undefined) continue;
    let next = ch;
    if (now < ch.finalizesAt) {
      // The partner's side on chain is whatever it or its closing left there; ours to fix.
      const proof = partnerProofs.get(ch.channelId);
      const partnerIsB = !ch.weAreB;
      const [storedNonce, storedSent] = partnerIsB
        ? [ch.closing.nonceB, ch.closing.sentB]
        : [ch.closing.nonceA, ch.closing.sentA];
      if (
        proof &&
        beats(proof, storedNonce, storedSent) &&
        ch.updatePendingNonce !== proof.proof.nonce
      ) {
        effects.push({
          type: "ChainSendUpdateProof",
          channelId: ch.channelId,
          closing: ch.closing,
          ofB: partnerIsB,
          signed: proof,
        });
        next = { ...next, updatePendingNonce: proof.proof.nonce };
      }
    } else if (!ch.settlePending && ch.updatePendingNonce === undefined) {
      effects.push({ type: "ChainSendSettle", channelId: ch.channelId, closing: ch.closing });
      next = { ...next, settlePending: true };
    }
    if (next !== ch) {
      channels ??= new Map(state.channels);
      channels.set(ch.channelId, next);
    }
  }
  return { state: channels ? { ...state, channels } : state, effects };
}

/** The contract's order: more transferred wins, then a higher nonce. */
function beats(p: SignedBalanceProof, storedNonce: bigint, storedSent: bigint): boolean {
  const { nonce, transferred } = p.proof;
  return transferred > storedSent || (transferred === storedSent && nonce > storedNonce);
}

function put(state: WatcherState, ch: WatchedChannel) {
  const channels = new Map(state.channels);
  channels.set(ch.channelId, ch);
  return { state: { ...state, channels }, effects: [] as WatcherEffect[] };
}
