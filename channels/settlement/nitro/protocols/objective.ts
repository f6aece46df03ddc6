/**
 * What the direct fund and direct defund cores share: their context, inputs and effects, and the
 * checks every state received from the peer passes (this channel, the expected state, the peer's
 * signature). Modelled on go-nitro's protocols/directfund and directdefund.
 */
import type { ProofSigner } from "../../../crypto/signer.ts";
import type { ProofVerifier } from "../../../crypto/verifier.ts";
import { type Result, reject } from "../../../errors.ts";
import type { Address, ChannelId } from "../../../types.ts";
import { hashExit } from "../encoding.ts";
import { checkStateSignature } from "../signatures.ts";
import type { Exit, FixedPart, SignedVariablePart, VariablePart } from "../types.ts";

/** What a Nitro objective may read from the outside: this node's key and the verifier. */
export interface ObjectiveContext {
  /** Signs deterministically (RFC 6979), so a transition that signs still replays the same. */
  readonly signer: ProofSigner;
  readonly verifier: ProofVerifier;
}

/** Why a received state or event was refused. */
export type ObjectiveRejectionCode =
  | "CHANNEL_MISMATCH"
  | "TURN_UNEXPECTED"
  | "OUTCOME_CHANGED"
  | "STATE_UNEXPECTED"
  | "ASSET_UNKNOWN"
  | "SIGNATURE_LENGTH"
  | "SIGNATURE_BAD_V"
  | "SIGNATURE_HIGH_S"
  | "SIGNATURE_RANGE"
  | "SIGNER_MISMATCH"
  | "VALUE_OUT_OF_RANGE";

/** A state of this channel signed by the peer, as the peer sends it. */
export interface ReceiveNitroState {
  readonly type: "ReceiveNitroState";
  readonly channelId: ChannelId;
  readonly variablePart: VariablePart;
  /** The peer's signature over the state, `r‖s‖v`. */
  readonly signature: Uint8Array;
}

/**
 * What the adjudicator holds for the channel in one asset, from a `Deposited` or
 * `AllocationUpdated` event; (blockNumber, logIndex) orders them, so a stale one is ignored.
 */
export interface ChainNitroHoldings {
  readonly type: "ChainNitroHoldings";
  readonly channelId: ChannelId;
  readonly asset: Address;
  readonly holdings: bigint;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** An input of either core. */
export type ObjectiveInput = ReceiveNitroState | ChainNitroHoldings;

/** Send our signature over a state to the peer. */
export interface SendNitroState {
  readonly type: "SendNitroState";
  readonly to: Address;
  readonly channelId: ChannelId;
  readonly variablePart: VariablePart;
  readonly signature: Uint8Array;
}

/** Deposit `amount` of `asset` into the channel; the adjudicator refuses it unless it holds `expectedHeld`. */
export interface ChainSendNitroDeposit {
  readonly type: "ChainSendNitroDeposit";
  readonly channelId: ChannelId;
  readonly asset: Address;
  readonly expectedHeld: bigint;
  readonly amount: bigint;
}

/** Conclude the channel on a final state both signed and pay out every asset. */
export interface ChainSendNitroConcludeAndTransfer {
  readonly type: "ChainSendNitroConcludeAndTransfer";
  readonly channelId: ChannelId;
  readonly fixedPart: FixedPart;
  readonly candidate: SignedVariablePart;
}

/** The objective reached its end. */
export interface NotifyObjectiveCompleted {
  readonly type: "NotifyObjectiveCompleted";
  readonly objective: "DirectFund" | "DirectDefund";
  readonly channelId: ChannelId;
}

/** An input was refused; the state returned is the very same object. */
export interface InvalidReceivedNitroInput {
  readonly type: "InvalidReceivedNitroInput";
  readonly code: ObjectiveRejectionCode;
  readonly reason: string;
}

/** An effect of either core. */
export type ObjectiveEffect =
  | SendNitroState
  | ChainSendNitroDeposit
  | ChainSendNitroConcludeAndTransfer
  | NotifyObjectiveCompleted
  | InvalidReceivedNitroInput;

/** A transition's result. */
export interface ObjectiveResult<S> {
  readonly state: S;
  readonly effects: readonly ObjectiveEffect[];
}

/** Where a holdings event stands among those seen for one asset. */
export interface HoldingsSeen {
  readonly holdings: bigint;
  /** -1 before any event. */
  readonly blockNumber: number;
  readonly logIndex: number;
}

export const NO_HOLDINGS: HoldingsSeen = { holdings: 0n, blockNumber: -1, logIndex: -1 };

/** Whether an event is newer than what was seen (older ones are stale: deliveries reorder). */
export function isNewer(seen: HoldingsSeen, e: ChainNitroHoldings): boolean {
  return (
    e.blockNumber > seen.blockNumber ||
    (e.blockNumber === seen.blockNumber && e.logIndex > seen.logIndex)
  );
}

/**
 * The holdings seen per asset of `outcome` once a chain report is taken in: a new array, or null
 * when the report is not newer than what was seen (stale or replayed: nothing to do).
 * @returns CHANNEL_MISMATCH (another channel's) or ASSET_UNKNOWN (an asset the outcome does not hold)
 */
export function updatedHoldings(
  channelId: ChannelId,
  outcome: Exit,
  seen: readonly HoldingsSeen[],
  input: ChainNitroHoldings,
): Result<HoldingsSeen[] | null, ObjectiveRejectionCode> {
  if (input.channelId !== channelId)
    return reject("CHANNEL_MISMATCH", "holdings of another channel");
  const i = outcome.findIndex((e) => e.asset.toLowerCase() === input.asset.toLowerCase());
  if (i < 0) return reject("ASSET_UNKNOWN", "holdings in an asset the outcome does not hold");
  if (!isNewer(seen[i]!, input)) return { ok: true, value: null };
  const holdings = seen.slice();
  holdings[i] = {
    holdings: input.holdings,
    blockNumber: input.blockNumber,
    logIndex: input.logIndex,
  };
  return { ok: true, value: holdings };
}

/** A refusal: the same state, one `InvalidReceivedNitroInput` effect. */
export function refused<S>(
  state: S,
  code: ObjectiveRejectionCode,
  reason: string,
): ObjectiveResult<S> {
  return { state, effects: [{ type: "InvalidReceivedNitroInput", code, reason }] };
}

/**
 * Checks a received state against the one state we expect at this point: same channel, same
 * turn, same outcome, same other fields, signed by the peer. Returns a rejection, or undefined.
 */
export function checkReceived(
  ctx: ObjectiveContext,
  fixedPart: FixedPart,
  channelId: ChannelId,
  expected: VariablePart,
  peer: Address,
  input: ReceiveNitroState,
): { readonly code: ObjectiveRejectionCode; readonly reason: string } | undefined {
  if (input.channelId !== channelId)
    return reject("CHANNEL_MISMATCH", "a state of another channel");
  const v = input.variablePart;
  if (v.turnNum !== expected.turnNum) {
    return reject("TURN_UNEXPECTED", `turn ${v.turnNum}, expected ${expected.turnNum}`);
  }
  let outcomeHash: string;
  try {
    outcomeHash = hashExit(v.outcome);
  } catch (err) {
    return reject("VALUE_OUT_OF_RANGE", (err as Error).message);
  }
  // The outcome is what the deposits pay out: a state that moves it is never countersigned.
  if (outcomeHash !== hashExit(expected.outcome)) {
    return reject("OUTCOME_CHANGED", "the outcome differs from the agreed one");
  }
  if (
    v.isFinal !== expected.isFinal ||
    v.appData.toLowerCase() !== expected.appData.toLowerCase()
  ) {
    return reject("STATE_UNEXPECTED", "isFinal or appData differs from the expected state");
  }
  // The signature is checked over the expected state, which is the received one field for field.
  const check = checkStateSignature(ctx.verifier, fixedPart, expected, input.signature, peer);
  return check.ok ? undefined : check;
}

/** Whether two signatures are the same bytes. */
export function sameSignature(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
