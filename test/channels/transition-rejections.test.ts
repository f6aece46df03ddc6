/**
 * Table-driven: every rejection code of the state machine, and that a rejection changes nothing.
 * (The unilateral close and settle rejections are the dispute machine's: test/channels/watcher.)
 */
import { describe, expect, it } from "vitest";
import type { ChannelErrorCode } from "../../channels/errors.ts";
import type { ChannelState } from "../../channels/state/channel-state.ts";
import type { ChannelInput, ReceiveSettlementProposal } from "../../channels/state/inputs.ts";
import { type TransitionContext, transition } from "../../channels/state/transition.ts";
import {
  alice,
  bob,
  channelIdOf,
  ctxA,
  ctxB,
  domain,
  mallory,
  openPair,
  otherDomain,
  received,
  signed,
} from "./helpers.ts";

const id = channelIdOf(1);

/** B's view after accepting alice's proof (nonce 5, transferred 40) and paying alice 10. */
function bobWithHistory(): ChannelState {
  let { b } = openPair(100n, 50n, id);
  b = transition(
    b,
    received(signed(alice, { channelId: id, nonce: 5n, transferred: 40n }), alice.address),
    ctxB,
  ).state;
  b = transition(b, { type: "ActionPay", amount: 10n }, ctxB).state;
  return b;
}

function bobClosed(): ChannelState {
  return transition(
    bobWithHistory(),
    { type: "ChainChannelClosed", channelId: id, closer: alice.address, finalizesAt: 2_000 },
    ctxB,
  ).state;
}

function bobFrozen(): ChannelState {
  return transition(bobWithHistory(), { type: "ActionProposeSettlement" }, ctxB).state;
}

function bobOpening(): ChannelState {
  const { b } = openPair(100n, 0n, id);
  return { ...b, status: "opening" };
}

const proofFromAlice = (
  nonce: bigint,
  transferred: bigint,
  opts: { by?: typeof alice; d?: typeof domain; channel?: number } = {},
) =>
  received(
    signed(
      opts.by ?? alice,
      { channelId: channelIdOf(opts.channel ?? 1), nonce, transferred },
      opts.d ?? domain,
    ),
    alice.address,
    opts.d ?? domain,
  );

interface Row {
  readonly name: string;
  readonly state: () => ChannelState;
  readonly input: () => ChannelInput;
  readonly effect: string;
  readonly code: ChannelErrorCode;
  readonly ctx?: TransitionContext;
}

const tamperedSig = () => {
  const s = signed(alice, { channelId: id, nonce: 6n, transferred: 41n });
  const sig = Uint8Array.from(s.signature);
  sig[64] = sig[64] === 27 ? 28 : 27;
  return received({ ...s, signature: sig }, alice.address);
};

const highS = () => {
  const s = signed(alice, { channelId: id, nonce: 6n, transferred: 41n });
  const sig = Uint8Array.from(s.signature);
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const sv = BigInt(`0x${Buffer.from(sig.subarray(32, 64)).toString("hex")}`);
  sig.set(Buffer.from((N - sv).toString(16).padStart(64, "0"), "hex"), 32);
  sig[64] = sig[64] === 27 ? 28 : 27;
  return received({ ...s, signature: sig }, alice.address);
};

const rows: Row[] = [
  {
    name: "signer is someone else",
    state: bobWithHistory,
    input: () => proofFromAlice(6n, 41n, { by: mallory }),
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNER_MISMATCH",
  },
  {
    name: "wrong v",
    state: bobWithHistory,
    input: tamperedSig,
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNER_MISMATCH",
  },
  {
    name: "high s (malleable twin)",
    state: bobWithHistory,
    input: highS,
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNATURE_HIGH_S",
  },
  {
    name: "bad signature length",
    state: bobWithHistory,
    input: () => {
      const s = signed(alice, { channelId: id, nonce: 6n, transferred: 41n });
      return received({ ...s, signature: s.signature.subarray(0, 63) }, alice.address);
    },
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNATURE_LENGTH",
  },
  {
    name: "v is 0/1 instead of 27/28",
    state: bobWithHistory,
    input: () => {
      const s = signed(alice, { channelId: id, nonce: 6n, transferred: 41n });
      const sig = Uint8Array.from(s.signature);
      sig[64] = sig[64]! - 27;
      return received({ ...s, signature: sig }, alice.address);
    },
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNATURE_BAD_V",
  },
  {
    name: "r is zero",
    state: bobWithHistory,
    input: () => {
      const s = signed(alice, { channelId: id, nonce: 6n, transferred: 41n });
      const sig = Uint8Array.from(s.signature);
      sig.fill(0, 0, 32);
      return received({ ...s, signature: sig }, alice.address);
    },
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNATURE_RANGE",
  },
  {
    name: "transferred tampered after signing",
    state: bobWithHistory,
    input: () => {
      const s = signed(alice, { channelId: id, nonce: 6n, transferred: 41n });
      return received({ ...s, proof: { ...s.proof, transferred: 90n } }, alice.address);
    },
    effect: "InvalidReceivedBalanceProof",
    code: "SIGNER_MISMATCH",
  },
  {
    name: "other channel",
    state: bobWithHistory,
    input: () => proofFromAlice(6n, 41n, { channel: 2 }),
    effect: "InvalidReceivedBalanceProof",
    code: "CHANNEL_MISMATCH",
  },
  {
    name: "other domain",
    state: bobWithHistory,
    input: () => proofFromAlice(6n, 41n, { d: otherDomain }),
    effect: "InvalidReceivedBalanceProof",
    code: "DOMAIN_MISMATCH",
  },
  {
    name: "nonce replayed",
    state: bobWithHistory,
    input: () => proofFromAlice(5n, 40n),
    effect: "InvalidReceivedBalanceProof",
    code: "NONCE_NOT_INCREASING",
  },
  {
    name: "nonce lower",
    state: bobWithHistory,
    input: () => proofFromAlice(4n, 45n),
    effect: "InvalidReceivedBalanceProof",
    code: "NONCE_NOT_INCREASING",
  },
  {
    name: "transferred decreased",
    state: bobWithHistory,
    input: () => proofFromAlice(6n, 39n),
    effect: "InvalidReceivedBalanceProof",
    code: "TRANSFERRED_DECREASED",
  },
  // alice: deposit 100 + received 10 from bob = 110 spendable in total; 111 is one too many.
  {
    name: "balance below zero (both directions counted)",
    state: bobWithHistory,
    input: () => proofFromAlice(6n, 111n),
    effect: "InvalidReceivedBalanceProof",
    code: "BALANCE_NEGATIVE",
  },
  {
    name: "nonce 0",
    state: () => openPair(100n, 0n, id).b,
    input: () => proofFromAlice(0n, 1n),
    effect: "InvalidReceivedBalanceProof",
    code: "VALUE_OUT_OF_RANGE",
  },
  {
    name: "proof before open",
    state: bobOpening,
    input: () => proofFromAlice(6n, 41n),
    effect: "InvalidReceivedBalanceProof",
    code: "CHANNEL_NOT_OPEN",
  },
  {
    name: "proof after close",
    state: bobClosed,
    input: () => proofFromAlice(6n, 41n),
    effect: "InvalidReceivedBalanceProof",
    code: "CHANNEL_CLOSED",
  },
  {
    name: "proof after signing a settlement",
    state: bobFrozen,
    input: () => proofFromAlice(6n, 41n),
    effect: "InvalidReceivedBalanceProof",
    code: "CHANNEL_FROZEN",
  },
  {
    name: "pay zero",
    state: bobWithHistory,
    input: () => ({ type: "ActionPay", amount: 0n }),
    effect: "NotifyActionRejected",
    code: "AMOUNT_INVALID",
  },
  // bob: deposit 50 + received 40 − sent 10 = 80.
  {
    name: "pay more than balance",
    state: bobWithHistory,
    input: () => ({ type: "ActionPay", amount: 81n }),
    effect: "NotifyActionRejected",
    code: "INSUFFICIENT_BALANCE",
  },
  {
    name: "pay after close",
    state: bobClosed,
    input: () => ({ type: "ActionPay", amount: 1n }),
    effect: "NotifyActionRejected",
    code: "CHANNEL_CLOSED",
  },
  {
    name: "pay while frozen",
    state: bobFrozen,
    input: () => ({ type: "ActionPay", amount: 1n }),
    effect: "NotifyActionRejected",
    code: "CHANNEL_FROZEN",
  },
  {
    name: "pay before open",
    state: bobOpening,
    input: () => ({ type: "ActionPay", amount: 1n }),
    effect: "NotifyActionRejected",
    code: "CHANNEL_NOT_OPEN",
  },
  {
    name: "pay with a foreign key",
    state: bobWithHistory,
    input: () => ({ type: "ActionPay", amount: 1n }),
    effect: "NotifyActionRejected",
    code: "SIGNER_NOT_PARTICIPANT",
    ctx: ctxA,
  },
  {
    name: "settlement not summing to the deposits",
    state: bobWithHistory,
    input: () => settlementProposal(71n, 80n),
    effect: "InvalidReceivedSettlement",
    code: "SETTLEMENT_SUM_MISMATCH",
  },
  {
    name: "settlement paying us less than our balance",
    state: bobWithHistory,
    input: () => settlementProposal(71n, 79n),
    effect: "InvalidReceivedSettlement",
    code: "SETTLEMENT_PAYOUT_TOO_LOW",
  },
  {
    name: "settlement signed by someone else",
    state: bobWithHistory,
    input: () => settlementProposal(70n, 80n, mallory),
    effect: "InvalidReceivedSettlement",
    code: "SIGNER_MISMATCH",
  },
  {
    name: "settlement from another domain",
    state: bobWithHistory,
    input: () => ({ ...settlementProposal(70n, 80n), domain: otherDomain }),
    effect: "InvalidReceivedSettlement",
    code: "DOMAIN_MISMATCH",
  },
  {
    name: "countersignature of nothing we proposed",
    state: bobWithHistory,
    input: () => ({
      ...(settlementProposal(70n, 80n) as ReceiveSettlementProposal),
      type: "ReceiveSettlementSignature",
    }),
    effect: "InvalidReceivedSettlement",
    code: "SETTLEMENT_UNEXPECTED",
  },
  {
    name: "settlement after close",
    state: bobClosed,
    input: () => settlementProposal(70n, 80n),
    effect: "InvalidReceivedSettlement",
    code: "CHANNEL_CLOSED",
  },
  {
    name: "deposit event after close",
    state: bobClosed,
    input: () => ({ type: "ChainDeposited", channelId: id, participant: "A", total: 500n }),
    effect: "InvalidReceivedChainEvent",
    code: "CHAIN_EVENT_UNEXPECTED",
  },
  {
    name: "chain event of another channel",
    state: bobWithHistory,
    input: () => ({
      type: "ChainDeposited",
      channelId: channelIdOf(9),
      participant: "A",
      total: 500n,
    }),
    effect: "InvalidReceivedChainEvent",
    code: "CHANNEL_MISMATCH",
  },
  {
    name: "close by someone not in the channel",
    state: bobWithHistory,
    input: () => ({
      type: "ChainChannelClosed",
      channelId: id,
      closer: mallory.address,
      finalizesAt: 2_000,
    }),
    effect: "InvalidReceivedChainEvent",
    code: "CHAIN_EVENT_UNEXPECTED",
  },
];

function settlementProposal(payoutA: bigint, payoutB: bigint, by = alice): ChannelInput {
  const settlement = { channelId: id, payoutA, payoutB };
  const signature = by.signSettlement(domain, settlement);
  const check =
    by.address === alice.address
      ? ({ ok: true, value: alice.address } as const)
      : ({ ok: true, value: by.address } as const);
  return { type: "ReceiveSettlementProposal", settlement, signature, domain, check };
}

describe("transition rejections", () => {
  it.each(rows)("$name -> $code", (row) => {
    const state = row.state();
    const { state: next, effects } = transition(state, row.input(), row.ctx ?? ctxB);
    expect(next).toBe(state);
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ type: row.effect, code: row.code });
  });

  it("the fixture history itself is valid: balances as the table assumes", () => {
    const b = bobWithHistory();
    expect(b.received?.proof.transferred).toBe(40n);
    expect(b.sent?.proof.transferred).toBe(10n);
    expect(bob.address).toBe(b.params.participantB);
  });
});
