/**
 * The dispute machine, the one in tollway (docs/adr/0007-one-dispute-machine.md): for one
 * account, over every channel it is in, it follows the settlement feed, keeps each channel's
 * deposits and, once closing, the committed state, and decides when to close unilaterally, when
 * to answer a close with a better proof, and when to settle. It speaks only the settlement
 * interface's events and effects and the payment-proof abstraction, so any backend fits. Pure: no
 * I/O, no clock; the chain's time arrives in `ActionTick` as the time the next block will carry
 * (the one that would carry our update or our settle).
 */

import type { ChannelErrorCode } from "../errors.ts";
import { compareProofs } from "../proof-order.ts";
import { committedAtClose, heldProof, roleOf, withProofUpdate } from "../settlement/committed.ts";
import type {
  ChainSendClose,
  ChainSendSettle,
  ChainSendUpdateProof,
} from "../settlement/effects.ts";
import type { ChainEvent } from "../settlement/events.ts";
import type { SignedPaymentProof } from "../settlement/payment-proof.ts";
import type { Address, ChannelId, CommittedState } from "../types.ts";

/** What the machine knows of one of our channels. */
export interface WatchedChannel {
  readonly channelId: ChannelId;
  readonly a: Address;
  readonly b: Address;
  /** True when we are B (the partner of the opener). */
  readonly weAreB: boolean;
  readonly depositA: bigint;
  readonly depositB: bigint;
  readonly status: "open" | "closing";
  /** What the chain holds while closing. */
  readonly closing?: CommittedState;
  readonly finalizesAt?: number;
  /** A close we sent and wait to see mined; not persisted across restarts. */
  readonly closePending?: boolean;
  /** An update we sent and wait to see mined (its nonce); not persisted across restarts. */
  readonly updatePendingNonce?: bigint;
  readonly settlePending?: boolean;
}

export interface WatcherState {
  readonly me: Address;
  /** The last block whose events are applied: where the feed resumes. */
  readonly cursor: number;
  readonly channels: ReadonlyMap<ChannelId, WatchedChannel>;
}

/** Time passed: answer stale closes, settle ended windows. */
export interface ActionTick {
  readonly type: "ActionTick";
  /**
   * The time the next block will carry (Unix seconds): the pending block's timestamp, or the
   * clock where the node has none. Not the latest block's: on a chain that mines only on
   * transactions it stops while time goes on, and a window would never end.
   */
  readonly now: number;
  /** Our best proof from the partner, per closing channel. */
  readonly partnerProofs: ReadonlyMap<ChannelId, SignedPaymentProof>;
}

/** Close unilaterally with the partner's best proof (null: none received). */
export interface ActionClose {
  readonly type: "ActionClose";
  readonly channelId: ChannelId;
  readonly partnerProof: SignedPaymentProof | null;
}

/** Settle now (`now` as in `ActionTick`); a tick past the window settles by itself as well. */
export interface ActionSettle {
  readonly type: "ActionSettle";
  readonly channelId: ChannelId;
  readonly now: number;
}

/** An effect the shell carried out failed: clear its pending mark so it is decided again. */
export interface ActionEffectFailed {
  readonly type: "ActionEffectFailed";
  readonly channelId: ChannelId;
  readonly effect: "close" | "update" | "settle";
}

export type WatcherInput =
  | ChainEvent
  | ActionTick
  | ActionClose
  | ActionSettle
  | ActionEffectFailed;

/** The partner closed; our watcher answers by itself until `finalizesAt`. */
export interface NotifyPartnerClosed {
  readonly type: "NotifyPartnerClosed";
  readonly channelId: ChannelId;
  readonly finalizesAt: number;
}

/** The channel was paid out. */
export interface NotifySettled {
  readonly type: "NotifySettled";
  readonly channelId: ChannelId;
}

/** A local action was refused (state unchanged). */
export interface NotifyActionRejected {
  readonly type: "NotifyActionRejected";
  readonly channelId: ChannelId;
  readonly action: "ActionClose" | "ActionSettle";
  readonly code: ChannelErrorCode;
  readonly reason: string;
}

export type WatcherEffect =
  | ChainSendClose
  | ChainSendUpdateProof
  | ChainSendSettle
  | NotifyPartnerClosed
  | NotifySettled
  | NotifyActionRejected;

type Out = { state: WatcherState; effects: readonly WatcherEffect[] };

/** A fresh state for account `me`, starting after block `cursor`. */
export function initialWatcherState(me: Address, cursor: number): WatcherState {
  return { me: me.toLowerCase() as Address, cursor, channels: new Map() };
}

/** Applies one input; returns the new state (the same object when nothing changed) and what the shell must do. */
export function watcherTransition(state: WatcherState, input: WatcherInput): Out {
  const none: Out = { state, effects: [] };
  switch (input.type) {
    case "ChainChannelOpened": {
      const weAreA = input.a.toLowerCase() === state.me;
      const weAreB = input.b.toLowerCase() === state.me;
      // Feeds are re-read after a restart: an opening we know is not news.
      if ((!weAreA && !weAreB) || state.channels.has(input.channelId)) return none;
      return put(state, {
        channelId: input.channelId,
        a: input.a,
        b: input.b,
        weAreB,
        depositA: input.depositA,
        depositB: 0n,
        status: "open",
      });
    }
    case "ChainDeposited": {
      const ch = state.channels.get(input.channelId);
      if (ch?.status !== "open") return none;
      // Totals, not deltas: a replayed event carries a total we already have.
      if (input.total <= (input.participant === "B" ? ch.depositB : ch.depositA)) return none;
      return put(
        state,
        input.participant === "B"
          ? { ...ch, depositB: input.total }
          : { ...ch, depositA: input.total },
      );
    }
    case "ChainChannelClosed": {
      const ch = state.channels.get(input.channelId);
      if (ch?.status !== "open") return none;
      const closedBy = roleOf(ch, input.closer);
      if (closedBy === undefined) return none;
      const { closePending: _sent, ...rest } = ch;
      const next = put(state, {
        ...rest,
        status: "closing",
        closing: committedAtClose(ch, ch, closedBy, input.proof),
        finalizesAt: input.finalizesAt,
      });
      const weClosed = input.closer.toLowerCase() === state.me;
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
      const { updatePendingNonce: _done, ...rest } = ch;
      return put(state, {
        ...rest,
        closing: withProofUpdate(ch.closing, input.signer, input.proof),
      });
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
    case "ActionClose":
      return close(state, input);
    case "ActionSettle":
      return settleNow(state, input);
    case "ActionEffectFailed": {
      const ch = state.channels.get(input.channelId);
      if (!ch) return none;
      // Clear the pending mark so that the next tick (or action) tries again.
      return put(
        state,
        input.effect === "close"
          ? { ...ch, closePending: undefined }
          : input.effect === "update"
            ? { ...ch, updatePendingNonce: undefined }
            : { ...ch, settlePending: undefined },
      );
    }
  }
}

function tick(
  state: WatcherState,
  now: number,
  partnerProofs: ReadonlyMap<ChannelId, SignedPaymentProof>,
): Out {
  const effects: WatcherEffect[] = [];
  let channels: Map<ChannelId, WatchedChannel> | undefined;
  for (const ch of state.channels.values()) {
    if (ch.status !== "closing" || !ch.closing || ch.finalizesAt === undefined) continue;
    let next = ch;
    if (now < ch.finalizesAt) {
      // The partner's side on chain is whatever it or its closing left there; ours to fix.
      const proof = partnerProofs.get(ch.channelId);
      const partner = ch.weAreB ? "A" : "B";
      if (
        proof &&
        compareProofs(proof.proof, heldProof(ch.closing, partner)) > 0 &&
        ch.updatePendingNonce !== proof.proof.nonce
      ) {
        effects.push({
          type: "ChainSendUpdateProof",
          channelId: ch.channelId,
          closing: ch.closing,
          signer: partner,
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

function close(state: WatcherState, input: ActionClose): Out {
  const ch = state.channels.get(input.channelId);
  if (!ch) return rejected(state, input, "CHANNEL_NOT_OPEN", "no such open channel of ours");
  // One close per channel: a second would only revert, and the first may still be on its way.
  if (ch.status !== "open" || ch.closePending) {
    return rejected(state, input, "CHANNEL_CLOSED", "channel is closing or closed");
  }
  const next = put(state, { ...ch, closePending: true });
  return {
    state: next.state,
    effects: [{ type: "ChainSendClose", channelId: ch.channelId, proof: input.partnerProof }],
  };
}

function settleNow(state: WatcherState, input: ActionSettle): Out {
  const ch = state.channels.get(input.channelId);
  if (ch?.status !== "closing" || !ch.closing || ch.finalizesAt === undefined) {
    return rejected(state, input, "CHANNEL_NOT_CLOSED", `channel is ${ch?.status ?? "unknown"}`);
  }
  if (input.now < ch.finalizesAt) {
    return rejected(state, input, "SETTLE_TOO_EARLY", `settle window ends at ${ch.finalizesAt}`);
  }
  if (ch.settlePending) return { state, effects: [] };
  const next = put(state, { ...ch, settlePending: true });
  return {
    state: next.state,
    effects: [{ type: "ChainSendSettle", channelId: ch.channelId, closing: ch.closing }],
  };
}

function rejected(
  state: WatcherState,
  input: ActionClose | ActionSettle,
  code: ChannelErrorCode,
  reason: string,
): Out {
  return {
    state,
    effects: [
      {
        type: "NotifyActionRejected",
        channelId: input.channelId,
        action: input.type,
        code,
        reason,
      },
    ],
  };
}

function put(state: WatcherState, ch: WatchedChannel): Out {
  const channels = new Map(state.channels);
  channels.set(ch.channelId, ch);
  return { state: { ...state, channels }, effects: [] };
}
