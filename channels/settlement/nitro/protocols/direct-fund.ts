/**
 * Direct fund of a two-party ledger channel, pure: both sign the prefund state (turn 0), each
 * deposits its share in outcome order once the holdings reach what the participants before it
 * are owed, both sign the postfund state (turn 1) once the channel is fully funded. As go-nitro's
 * protocols/directfund, every input updates the objective and a crank emits what is now due.
 */
import type { Address, ChannelId } from "../../../types.ts";
import { destinationOf, nitroChannelId } from "../encoding.ts";
import { signState } from "../signatures.ts";
import type { Exit, FixedPart, HexBytes, VariablePart } from "../types.ts";
import {
  type ChainNitroHoldings,
  checkReceived,
  type HoldingsSeen,
  NO_HOLDINGS,
  type ObjectiveContext,
  type ObjectiveEffect,
  type ObjectiveInput,
  type ObjectiveResult,
  type ReceiveNitroState,
  refused,
  sameSignature,
  updatedHoldings,
} from "./objective.ts";

/** A direct fund objective as one participant sees it. */
export interface DirectFundState {
  readonly fixedPart: FixedPart;
  readonly channelId: ChannelId;
  /** Our index in `participants` (0 or 1). */
  readonly myIndex: number;
  /** The outcome both agreed in the prefund state; no later state may change it. */
  readonly outcome: Exit;
  readonly appData: HexBytes;
  /** Signatures over turn 0 and turn 1, by participant index. */
  readonly prefund: readonly (Uint8Array | undefined)[];
  readonly postfund: readonly (Uint8Array | undefined)[];
  /** Newest holdings seen per exit of the outcome (same order). */
  readonly holdings: readonly HoldingsSeen[];
  /** Per exit: whether we asked for our deposit. Never twice: a second one would lose tokens. */
  readonly deposited: readonly boolean[];
  readonly completed: boolean;
}

/** What starts a direct fund. */
export interface DirectFundParams {
  readonly fixedPart: FixedPart;
  readonly myIndex: number;
  readonly outcome: Exit;
  readonly appData?: HexBytes;
}

/** A participant's share of one exit, and what the participants before it are owed. */
export function depositWindow(
  outcome: Exit,
  exitIndex: number,
  participant: Address,
): { readonly before: bigint; readonly mine: bigint } {
  const me = destinationOf(participant);
  let before = 0n;
  let mine = 0n;
  let seenMine = false;
  for (const a of outcome[exitIndex]!.allocations) {
    if (a.destination === me) {
      seenMine = true;
      mine += a.amount;
    } else if (!seenMine) {
      before += a.amount;
    }
  }
  return { before, mine };
}

/** What the outcome allocates in one exit, in all. */
export function exitTotal(outcome: Exit, exitIndex: number): bigint {
  return outcome[exitIndex]!.allocations.reduce((s, a) => s + a.amount, 0n);
}

const variablePart = (s: DirectFundState, turnNum: number): VariablePart => ({
  outcome: s.outcome,
  appData: s.appData,
  turnNum,
  isFinal: false,
});

const fullySigned = (sigs: readonly (Uint8Array | undefined)[]) =>
  sigs.every((x) => x !== undefined);

/** Whether every exit holds at least what the outcome allocates. */
export function fullyFunded(s: DirectFundState): boolean {
  return s.holdings.every((h, i) => h.holdings >= exitTotal(s.outcome, i));
}

/**
 * Starts a direct fund: signs the prefund state and sends it to the peer.
 * @throws TypeError when the channel is not two-party, `myIndex` is not ours, or a field is out
 *   of its Solidity type (a local programming error, not peer input).
 * @example
 * let { state, effects } = startDirectFund({ fixedPart, myIndex: 0, outcome }, { signer, verifier });
 * // the shell persists `state`, sends the SendNitroState effect, and later feeds each input:
 * ({ state, effects } = directFundTransition(state, receivedOrChainInput, { signer, verifier }));
 */
export function startDirectFund(
  params: DirectFundParams,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectFundState> {
  const { fixedPart, myIndex } = params;
  if (fixedPart.participants.length !== 2)
    throw new TypeError("a ledger channel has two participants");
  if (fixedPart.participants[myIndex]?.toLowerCase() !== ctx.signer.address.toLowerCase()) {
    throw new TypeError("myIndex is not this signer's");
  }
  const state: DirectFundState = {
    fixedPart,
    channelId: nitroChannelId(fixedPart),
    myIndex,
    outcome: params.outcome,
    appData: params.appData ?? "0x",
    prefund: [undefined, undefined],
    postfund: [undefined, undefined],
    holdings: params.outcome.map(() => NO_HOLDINGS),
    deposited: params.outcome.map(() => false),
    completed: false,
  };
  return crank(state, [], ctx);
}

/**
 * Applies one input to a direct fund objective. A refused input returns the same state and one
 * `InvalidReceivedNitroInput` effect; a duplicate or stale one returns the same state and none.
 */
export function directFundTransition(
  state: DirectFundState,
  input: ObjectiveInput,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectFundState> {
  if (state.completed) return { state, effects: [] };
  return input.type === "ReceiveNitroState"
    ? onState(state, input, ctx)
    : onHoldings(state, input, ctx);
}

function onState(
  state: DirectFundState,
  input: ReceiveNitroState,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectFundState> {
  const turn = input.variablePart.turnNum;
  // Only turns 0 and 1 belong to funding; anything else is checked against turn 0 and refused.
  const expected = variablePart(state, turn === 1 ? 1 : 0);
  const peerIndex = 1 - state.myIndex;
  const peer = state.fixedPart.participants[peerIndex]!;
  const bad = checkReceived(ctx, state.fixedPart, state.channelId, expected, peer, input);
  if (bad !== undefined) return refused(state, bad.code, bad.reason);
  const key = turn === 1 ? "postfund" : "prefund";
  const had = state[key][peerIndex];
  if (had !== undefined && sameSignature(had, input.signature)) return { state, effects: [] };
  const sigs = state[key].slice();
  sigs[peerIndex] = input.signature;
  return crank({ ...state, [key]: sigs }, [], ctx);
}

function onHoldings(
  state: DirectFundState,
  input: ChainNitroHoldings,
  ctx: ObjectiveContext,
): ObjectiveResult<DirectFundState> {
  const h = updatedHoldings(state.channelId, state.outcome, state.holdings, input);
  if (!h.ok) return refused(state, h.code, h.reason);
  if (h.value === null) return { state, effects: [] };
  return crank({ ...state, holdings: h.value }, [], ctx);
}

/** Emits what is due now: our prefund signature, our deposits, our postfund signature, the end. */
function crank(
  s0: DirectFundState,
  effects: ObjectiveEffect[],
  ctx: ObjectiveContext,
): ObjectiveResult<DirectFundState> {
  let s = s0;
  const me = s.fixedPart.participants[s.myIndex]!;
  const peer = s.fixedPart.participants[1 - s.myIndex]!;
  const sign = (key: "prefund" | "postfund", turnNum: number) => {
    const v = variablePart(s, turnNum);
    const signature = signState(ctx.signer, s.fixedPart, v);
    const sigs = s[key].slice();
    sigs[s.myIndex] = signature;
    s = { ...s, [key]: sigs };
    effects.push({
      type: "SendNitroState",
      to: peer,
      channelId: s.channelId,
      variablePart: v,
      signature,
    });
  };
  if (s.prefund[s.myIndex] === undefined) sign("prefund", 0);
  // Nothing moves on chain until both are bound to the outcome.
  if (!fullySigned(s.prefund)) return { state: s, effects };
  let deposited = s.deposited;
  s.outcome.forEach((exit, i) => {
    if (deposited[i]) return;
    const held = s.holdings[i]!.holdings;
    const { before, mine } = depositWindow(s.outcome, i, me);
    // Depositing before those ahead of us are covered would pay them with our tokens.
    if (mine === 0n || held < before || held >= before + mine) return;
    effects.push({
      type: "ChainSendNitroDeposit",
      channelId: s.channelId,
      asset: exit.asset,
      expectedHeld: held,
      amount: before + mine - held,
    });
    deposited = deposited === s.deposited ? deposited.slice() : deposited;
    (deposited as boolean[])[i] = true;
  });
  if (deposited !== s.deposited) s = { ...s, deposited };
  if (!fullyFunded(s)) return { state: s, effects };
  if (s.postfund[s.myIndex] === undefined) sign("postfund", 1);
  if (fullySigned(s.postfund)) {
    s = { ...s, completed: true };
    effects.push({
      type: "NotifyObjectiveCompleted",
      objective: "DirectFund",
      channelId: s.channelId,
    });
  }
  return { state: s, effects };
}
