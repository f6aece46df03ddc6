/**
 * The channel state machine: `transition(state, input, ctx) -> { state, effects }`, pure and
 * deterministic (no I/O, clock or randomness; time comes from ctx, signatures are RFC 6979).
 * Invalid input is a value: an `InvalidReceived*` or `NotifyActionRejected` effect, and the state
 * returned is the very same object.
 */

import { sameDomain } from "../crypto/domain-cache.ts";
import type { ProofSigner } from "../crypto/signer.ts";
import type { ChannelErrorCode } from "../errors.ts";
import type { Role, Settlement } from "../types.ts";
import { balanceOf, depositOf, sentBy } from "./balances.ts";
import {
  addressOf,
  type ChannelState,
  type OnChainClose,
  otherRole,
  type PendingSettlement,
} from "./channel-state.ts";
import type { ChannelEffect } from "./effects.ts";
import type {
  ActionPay,
  ChainChannelClosed,
  ChainChannelOpened,
  ChainChannelSettled,
  ChainDeposited,
  ChannelInput,
  ReceiveBalanceProof,
  ReceiveSettlementProposal,
  ReceiveSettlementSignature,
} from "./inputs.ts";
import { validateReceivedProof } from "./validate.ts";

/** What a transition may read from the outside world, passed in so that it stays pure. */
export interface TransitionContext {
  /**
   * Unix seconds. No rule of this core reads it since settle windows became the dispute
   * machine's; relay/ still passes it.
   */
  readonly now: bigint;
  /** Latest block number seen (read by no rule either; see `now`). */
  readonly blockNumber: bigint;
  /**
   * This node's key. Signing is deterministic (RFC 6979), so a transition that signs is still a
   * function of its arguments and replays to the same bytes.
   */
  readonly signer: ProofSigner;
}

/** A transition's result. */
export interface TransitionResult {
  readonly state: ChannelState;
  readonly effects: readonly ChannelEffect[];
}

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Applies one input to one channel.
 * @param state - the channel as this node sees it
 * @param input - a `Receive*`, `Chain*` or `Action*` input
 * @param ctx - time, block number and this node's signer
 * @returns the new state (the same object when nothing changed) and the effects to carry out
 * @example
 * const { state: next, effects } = transition(state, { type: "ActionPay", amount: 10n }, ctx);
 * // effects: [{ type: "SendBalanceProof", signed, channelId }]
 */
export function transition(
  state: ChannelState,
  input: ChannelInput,
  ctx: TransitionContext,
): TransitionResult {
  switch (input.type) {
    case "ChainChannelOpened":
      return onOpened(state, input);
    case "ChainDeposited":
      return onDeposited(state, input);
    case "ActionPay":
      return onPay(state, input, ctx);
    case "ReceiveBalanceProof":
      return onReceiveProof(state, input);
    case "ActionProposeSettlement":
      return onProposeSettlement(state, ctx);
    case "ReceiveSettlementProposal":
      return onSettlementProposal(state, input, ctx);
    case "ReceiveSettlementSignature":
      return onSettlementSignature(state, input);
    case "ChainChannelClosed":
      return onClosed(state, input);
    case "ChainChannelSettled":
      return onSettled(state, input);
  }
}

const unchanged = (state: ChannelState): TransitionResult => ({ state, effects: [] });

function actionRejected(
  state: ChannelState,
  action: ChannelInput["type"],
  code: ChannelErrorCode,
  reason: string,
): TransitionResult {
  return {
    state,
    effects: [
      { type: "NotifyActionRejected", channelId: state.params.channelId, action, code, reason },
    ],
  };
}

function chainRejected(
  state: ChannelState,
  event: ChannelInput["type"],
  code: ChannelErrorCode,
  reason: string,
): TransitionResult {
  return {
    state,
    effects: [
      { type: "InvalidReceivedChainEvent", channelId: state.params.channelId, event, code, reason },
    ],
  };
}

function settlementRejected(
  state: ChannelState,
  code: ChannelErrorCode,
  reason: string,
): TransitionResult {
  return {
    state,
    effects: [
      { type: "InvalidReceivedSettlement", channelId: state.params.channelId, code, reason },
    ],
  };
}

function onOpened(state: ChannelState, input: ChainChannelOpened): TransitionResult {
  if (input.channelId !== state.params.channelId) {
    return chainRejected(state, input.type, "CHANNEL_MISMATCH", "event for another channel");
  }
  // Chain events are re-read after a restart or a reorg: a repeat is not news.
  if (state.status !== "opening") return unchanged(state);
  return {
    state: { ...state, status: "open", depositA: max(state.depositA, input.depositA) },
    effects: [{ type: "NotifyChannelOpened", channelId: state.params.channelId }],
  };
}

function onDeposited(state: ChannelState, input: ChainDeposited): TransitionResult {
  if (input.channelId !== state.params.channelId) {
    return chainRejected(state, input.type, "CHANNEL_MISMATCH", "event for another channel");
  }
  if (state.status !== "open") {
    return chainRejected(
      state,
      input.type,
      "CHAIN_EVENT_UNEXPECTED",
      `deposit while ${state.status}`,
    );
  }
  // Totals, not deltas: a replayed event carries a total we already have and changes nothing.
  if (input.total <= depositOf(state, input.participant)) return unchanged(state);
  const next =
    input.participant === "A"
      ? { ...state, depositA: input.total }
      : { ...state, depositB: input.total };
  return {
    state: next,
    effects: [
      {
        type: "NotifyDeposit",
        channelId: state.params.channelId,
        participant: input.participant,
        total: input.total,
      },
    ],
  };
}

function onPay(state: ChannelState, input: ActionPay, ctx: TransitionContext): TransitionResult {
  const { params } = state;
  if (typeof input.amount !== "bigint" || input.amount <= 0n) {
    return actionRejected(state, input.type, "AMOUNT_INVALID", "amount must be positive");
  }
  if (state.status === "opening") {
    return actionRejected(state, input.type, "CHANNEL_NOT_OPEN", "channel not open yet");
  }
  if (state.status !== "open") {
    return actionRejected(state, input.type, "CHANNEL_CLOSED", "channel is closing or closed");
  }
  if (state.settlement !== null) {
    return actionRejected(state, input.type, "CHANNEL_FROZEN", "a settlement is signed");
  }
  if (ctx.signer.address !== addressOf(params, params.self)) {
    return actionRejected(state, input.type, "SIGNER_NOT_PARTICIPANT", "ctx.signer is not us");
  }
  // Counting both directions and top-ups: we can spend our deposit plus what we received.
  const balance = balanceOf(state, params.self);
  if (balance < input.amount) {
    return actionRejected(
      state,
      input.type,
      "INSUFFICIENT_BALANCE",
      `balance ${balance} < amount ${input.amount}`,
    );
  }
  const nonce = (state.sent?.proof.nonce ?? 0n) + 1n;
  if (nonce > UINT64_MAX) {
    return actionRejected(state, input.type, "VALUE_OUT_OF_RANGE", "nonce exhausted");
  }
  const proof = {
    channelId: params.channelId,
    nonce,
    transferred: sentBy(state, params.self) + input.amount,
  };
  const signed = { proof, signature: ctx.signer.signBalanceProof(params.domain, proof) };
  return {
    state: { ...state, sent: signed },
    effects: [{ type: "SendBalanceProof", channelId: params.channelId, signed }],
  };
}

function onReceiveProof(state: ChannelState, input: ReceiveBalanceProof): TransitionResult {
  const { proof } = input.signed;
  const bad = validateReceivedProof(state, proof, input.domain, input.check);
  if (bad !== null) {
    return {
      state,
      effects: [
        {
          type: "InvalidReceivedBalanceProof",
          channelId: state.params.channelId,
          nonce: typeof proof.nonce === "bigint" ? proof.nonce : -1n,
          code: bad.code,
          reason: bad.reason,
        },
      ],
    };
  }
  const amount = proof.transferred - (state.received?.proof.transferred ?? 0n);
  return {
    state: { ...state, received: input.signed },
    effects: [
      {
        type: "NotifyPaymentReceived",
        channelId: state.params.channelId,
        amount,
        transferred: proof.transferred,
        nonce: proof.nonce,
      },
    ],
  };
}

/** The settlement at this node's current view of the balances. */
function currentSettlement(state: ChannelState): Settlement {
  return {
    channelId: state.params.channelId,
    payoutA: balanceOf(state, "A"),
    payoutB: balanceOf(state, "B"),
  };
}

function sameSettlement(a: Settlement, b: Settlement): boolean {
  return a.channelId === b.channelId && a.payoutA === b.payoutA && a.payoutB === b.payoutB;
}

function withSignature(p: PendingSettlement, role: Role, sig: Uint8Array): PendingSettlement {
  return role === "A" ? { ...p, signatureA: sig } : { ...p, signatureB: sig };
}

function signatureOf(p: PendingSettlement, role: Role): Uint8Array | null {
  return role === "A" ? p.signatureA : p.signatureB;
}

function onProposeSettlement(state: ChannelState, ctx: TransitionContext): TransitionResult {
  const type = "ActionProposeSettlement";
  const { params } = state;
  if (state.status !== "open") {
    return actionRejected(state, type, "CHANNEL_CLOSED", "channel is not open");
  }
  if (ctx.signer.address !== addressOf(params, params.self)) {
    return actionRejected(state, type, "SIGNER_NOT_PARTICIPANT", "ctx.signer is not us");
  }
  const settlement = currentSettlement(state);
  const pending = state.settlement;
  // Payments froze when we first signed, so the same view gives the same settlement: resend it.
  if (pending !== null && sameSettlement(pending.settlement, settlement)) {
    const own = signatureOf(pending, params.self)!;
    return {
      state,
      effects: [
        { type: "SendSettlementProposal", channelId: params.channelId, settlement, signature: own },
      ],
    };
  }
  const signature = ctx.signer.signSettlement(params.domain, settlement);
  const next = withSignature(
    { settlement, proposedBy: params.self, signatureA: null, signatureB: null },
    params.self,
    signature,
  );
  return {
    state: { ...state, settlement: next },
    effects: [
      { type: "SendSettlementProposal", channelId: params.channelId, settlement, signature },
    ],
  };
}

function checkSettlementMessage(
  state: ChannelState,
  input: ReceiveSettlementProposal | ReceiveSettlementSignature,
): TransitionResult | null {
  const { params } = state;
  if (state.status !== "open") {
    return settlementRejected(
      state,
      state.status === "opening" ? "CHANNEL_NOT_OPEN" : "CHANNEL_CLOSED",
      `channel is ${state.status}`,
    );
  }
  if (input.settlement.channelId !== params.channelId) {
    return settlementRejected(state, "CHANNEL_MISMATCH", "settlement for another channel");
  }
  if (!sameDomain(input.domain, params.domain)) {
    return settlementRejected(state, "DOMAIN_MISMATCH", "signed for another chain or contract");
  }
  if (!input.check.ok) return settlementRejected(state, input.check.code, input.check.reason);
  const partner = addressOf(params, otherRole(params.self));
  if (input.check.value.toLowerCase() !== partner) {
    return settlementRejected(state, "SIGNER_MISMATCH", `signed by ${input.check.value}`);
  }
  // The contract pays out exactly the deposits: any other sum cannot settle.
  if (input.settlement.payoutA + input.settlement.payoutB !== state.depositA + state.depositB) {
    return settlementRejected(state, "SETTLEMENT_SUM_MISMATCH", "payouts must sum to the deposits");
  }
  return null;
}

function onSettlementProposal(
  state: ChannelState,
  input: ReceiveSettlementProposal,
  ctx: TransitionContext,
): TransitionResult {
  const bad = checkSettlementMessage(state, input);
  if (bad !== null) return bad;
  const { params } = state;
  const self = params.self;
  const partner = otherRole(self);
  const pending = state.settlement;
  if (pending !== null && sameSettlement(pending.settlement, input.settlement)) {
    const own = signatureOf(pending, self)!;
    if (signatureOf(pending, partner) === null && pending.proposedBy === self) {
      // Both proposed the same settlement at once: theirs is our countersignature.
      return onSettlementSignature(state, { ...input, type: "ReceiveSettlementSignature" });
    }
    if (signatureOf(pending, partner) !== null) {
      // A repeat of a proposal we already countersigned: send our signature again, nothing else.
      return {
        state,
        effects: [
          {
            type: "SendSettlementSignature",
            channelId: params.channelId,
            settlement: pending.settlement,
            signature: own,
          },
        ],
      };
    }
  }
  // Never sign away more than our own balance; more for us is fine. Signing a second, different
  // settlement is safe by the same rule: whichever one reaches the chain pays us at least this.
  const mine = self === "A" ? input.settlement.payoutA : input.settlement.payoutB;
  const balance = balanceOf(state, self);
  if (mine < balance) {
    return settlementRejected(
      state,
      "SETTLEMENT_PAYOUT_TOO_LOW",
      `our payout ${mine} < our balance ${balance}`,
    );
  }
  if (ctx.signer.address !== addressOf(params, self)) {
    return actionRejected(state, input.type, "SIGNER_NOT_PARTICIPANT", "ctx.signer is not us");
  }
  const signature =
    pending !== null && sameSettlement(pending.settlement, input.settlement)
      ? signatureOf(pending, self)!
      : ctx.signer.signSettlement(params.domain, input.settlement);
  let next: PendingSettlement = {
    settlement: input.settlement,
    proposedBy: partner,
    signatureA: null,
    signatureB: null,
  };
  next = withSignature(withSignature(next, self, signature), partner, input.signature);
  return {
    state: { ...state, settlement: next },
    effects: [
      {
        type: "SendSettlementSignature",
        channelId: params.channelId,
        settlement: input.settlement,
        signature,
      },
      { type: "NotifySettlementSigned", channelId: params.channelId, settlement: input.settlement },
    ],
  };
}

function onSettlementSignature(
  state: ChannelState,
  input: ReceiveSettlementSignature,
): TransitionResult {
  const bad = checkSettlementMessage(state, input);
  if (bad !== null) return bad;
  const { params } = state;
  const pending = state.settlement;
  if (
    pending === null ||
    pending.proposedBy !== params.self ||
    !sameSettlement(pending.settlement, input.settlement)
  ) {
    return settlementRejected(state, "SETTLEMENT_UNEXPECTED", "not the settlement we proposed");
  }
  const partner = otherRole(params.self);
  if (signatureOf(pending, partner) !== null) return unchanged(state);
  const next = withSignature(pending, partner, input.signature);
  return {
    state: { ...state, settlement: next },
    effects: [
      { type: "NotifySettlementSigned", channelId: params.channelId, settlement: next.settlement },
      {
        type: "ChainSendCooperativeClose",
        channelId: params.channelId,
        settlement: next.settlement,
        signatureA: next.signatureA!,
        signatureB: next.signatureB!,
      },
    ],
  };
}

function onClosed(state: ChannelState, input: ChainChannelClosed): TransitionResult {
  const { params } = state;
  if (input.channelId !== params.channelId) {
    return chainRejected(state, input.type, "CHANNEL_MISMATCH", "event for another channel");
  }
  if (state.status === "closed" || state.status === "settled") return unchanged(state);
  if (state.status !== "open") {
    return chainRejected(state, input.type, "CHAIN_EVENT_UNEXPECTED", "channel not open");
  }
  const closer = input.closer.toLowerCase();
  const closedBy: Role | null =
    closer === params.participantA ? "A" : closer === params.participantB ? "B" : null;
  if (closedBy === null) {
    return chainRejected(state, input.type, "CHAIN_EVENT_UNEXPECTED", "closed by a stranger");
  }
  // Payments stop here; answering a stale close is the dispute machine's job.
  const close: OnChainClose = { closedBy, settleDeadline: BigInt(input.finalizesAt) };
  return {
    state: { ...state, status: "closed", close },
    effects: [{ type: "NotifyChannelClosed", channelId: params.channelId, closedBy }],
  };
}

function onSettled(state: ChannelState, input: ChainChannelSettled): TransitionResult {
  if (input.channelId !== state.params.channelId) {
    return chainRejected(state, input.type, "CHANNEL_MISMATCH", "event for another channel");
  }
  if (state.status === "settled") return unchanged(state);
  if (state.status === "opening") {
    return chainRejected(state, input.type, "CHAIN_EVENT_UNEXPECTED", "channel not open");
  }
  // The feed delivers in order and a closing channel cannot close cooperatively: a payout with no
  // close before it is the cooperative one.
  const cooperative = state.status === "open";
  const payouts = { payoutA: input.payoutA, payoutB: input.payoutB, cooperative };
  return {
    state: { ...state, status: "settled", payouts },
    effects: [
      {
        type: "NotifyChannelSettled",
        channelId: state.params.channelId,
        payoutA: input.payoutA,
        payoutB: input.payoutB,
        cooperative,
      },
    ],
  };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
