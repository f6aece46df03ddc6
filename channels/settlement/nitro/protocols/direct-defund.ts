/**
 * Direct defund of a two-party ledger channel, pure: both sign a final state (turn n+1 over the
 * latest supported state n, same outcome), the first participant concludes it on chain and pays
 * out every asset, and the objective completes when the chain reports the channel emptied. As
 * go-nitro's protocols/directdefund.
 */
import type { ChannelId } from "../../../types.ts";
import { nitroChannelId } from "../encoding.ts";
import { signedVariablePart, signState } from "../signatures.ts";
import type { FixedPart, VariablePart } from "../types.ts";
import {
  type ChainNitroHoldings,
  checkReceived,
  type HoldingsSeen,
  type ObjectiveContext,
  type ObjectiveEffect,
  type ObjectiveInput,
  type ObjectiveResult,
  type ReceiveNitroState,
  refused,
  sameSignature,
  updatedHoldings,
} from "./objective.ts";

/** A direct defund objective as one participant sees it. */
export interface DirectDefundState {
  readonly fixedPart: FixedPart;
  readonly channelId: ChannelId;
  readonly myIndex: number;
  /** The final state: the latest supported one's outcome and appData, one turn on, final. */
  readonly final: VariablePart;
  readonly signatures: readonly (Uint8Array | undefined)[];
  /** Newest holdings seen per exit of the final outcome (same order). */
  readonly holdings: readonly HoldingsSeen[];
  /** Whether we asked to conclude; only participant 0 does, once. */
  readonly concluded: boolean;
  readonly completed: boolean;
}

/** What starts a direct defund. */
export interface DirectDefundParams {
  readonly fixedPart: FixedPart;
  readonly myIndex: number;
  /** The latest state both signed (the postfund state, or a later ledger update). */
  readonly latest: VariablePart;
  /** The holdings last seen per exit, as the fund objective left them. */
  readonly holdings: readonly HoldingsSeen[];
}

/**
 * Starts a direct defund: signs the final state and sends it to the peer.
 * @throws TypeError when `myIndex` is not ours, the latest state is already final, or the
 *   holdings do not match the outcome's exits.
 * @example
 * const { state, effects } = startDirectDefund(
 *   { fixedPart, myIndex, latest: postfund, holdings: funded.holdings },
 *   { signer, verifier },
 * );
 */
export function startDirectDefund(
  params: DirectDefundParams,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectDefundState> {
  const { fixedPart, myIndex, latest } = params;
  if (fixedPart.participants[myIndex]?.toLowerCase() !== ctx.signer.address.toLowerCase()) {
    throw new TypeError("myIndex is not this signer's");
  }
  if (latest.isFinal) throw new TypeError("the latest state is already final");
  if (params.holdings.length !== latest.outcome.length)
    throw new TypeError("one holdings per exit");
  const final: VariablePart = { ...latest, turnNum: latest.turnNum + 1, isFinal: true };
  const signature = signState(ctx.signer, fixedPart, final);
  const signatures: (Uint8Array | undefined)[] = [undefined, undefined];
  signatures[myIndex] = signature;
  const state: DirectDefundState = {
    fixedPart,
    channelId: nitroChannelId(fixedPart),
    myIndex,
    final,
    signatures,
    holdings: params.holdings,
    concluded: false,
    completed: false,
  };
  const effects: ObjectiveEffect[] = [
    {
      type: "SendNitroState",
      to: fixedPart.participants[1 - myIndex]!,
      channelId: state.channelId,
      variablePart: final,
      signature,
    },
  ];
  return crank(state, effects);
}

/**
 * Applies one input to a direct defund objective. A refused input returns the same state and one
 * `InvalidReceivedNitroInput` effect; a duplicate or stale one returns the same state and none.
 */
export function directDefundTransition(
  state: DirectDefundState,
  input: ObjectiveInput,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectDefundState> {
  if (state.completed) return { state, effects: [] };
  return input.type === "ReceiveNitroState" ? onState(state, input, ctx) : onHoldings(state, input);
}

function onState(
  state: DirectDefundState,
  input: ReceiveNitroState,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectDefundState> {
  const peerIndex = 1 - state.myIndex;
  const peer = state.fixedPart.participants[peerIndex]!;
  const bad = checkReceived(ctx, state.fixedPart, state.channelId, state.final, peer, input);
  if (bad !== undefined) return refused(state, bad.code, bad.reason);
  const had = state.signatures[peerIndex];
  if (had !== undefined && sameSignature(had, input.signature)) return { state, effects: [] };
  const signatures = state.signatures.slice();
  signatures[peerIndex] = input.signature;
  return crank({ ...state, signatures }, []);
}

function onHoldings(
  state: DirectDefundState,
  input: ChainNitroHoldings,
): ObjectiveResult<DirectDefundState> {
  const h = updatedHoldings(state.channelId, state.final.outcome, state.holdings, input);
  if (!h.ok) return refused(state, h.code, h.reason);
  if (h.value === null) return { state, effects: [] };
  return crank({ ...state, holdings: h.value }, []);
}

function crank(
  s0: DirectDefundState,
  effects: ObjectiveEffect[],
): ObjectiveResult<DirectDefundState> {
  let s = s0;
  if (!s.signatures.every((x) => x !== undefined)) return { state: s, effects };
  // One concluder, so that the second transaction does not revert on a finalized channel.
  if (s.myIndex === 0 && !s.concluded) {
    s = { ...s, concluded: true };
    effects.push({
      type: "ChainSendNitroConcludeAndTransfer",
      channelId: s.channelId,
      fixedPart: s.fixedPart,
      candidate: signedVariablePart(s.final, s.signatures as Uint8Array[]),
    });
  }
  // Emptied after both signed the final state: the payout is the final outcome's.
  if (s.holdings.every((h) => h.holdings === 0n)) {
    s = { ...s, completed: true };
    effects.push({
      type: "NotifyObjectiveCompleted",
      objective: "DirectDefund",
      channelId: s.channelId,
    });
  }
  return { state: s, effects };
}
