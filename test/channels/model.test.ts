/**
 * Model-based test (fast-check commands): two peers drive the real `transition` through random
 * payments both ways, top-ups, delivered/duplicated/reordered/replayed/forged messages, and
 * cooperative or unilateral closes (also with stale proofs), against a simple model. After every
 * step: each view matches the model, no balance is negative, tokens are conserved; replays and
 * forgeries change nothing; at settlement every honest party gets at least its balance.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { balanceProofDigest, eip712Domain } from "../../channels/crypto/eip712.ts";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import type { SignedBalanceProof } from "../../channels/signed.ts";
import { balanceOf, compareProofs, computePayouts } from "../../channels/state/balances.ts";
import type { ChannelState, Role } from "../../channels/state/channel-state.ts";
import type { ChannelEffect } from "../../channels/state/effects.ts";
import type { ChannelInput } from "../../channels/state/inputs.ts";
import { transition } from "../../channels/state/transition.ts";
import type { BalanceProof, ChannelDomain, Settlement } from "../../channels/types.ts";
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
} from "./helpers.ts";

const id = channelIdOf(42);
const verifier = new ProofVerifier();
const signerOf = (r: Role) => (r === "A" ? alice : bob);
const other = (r: Role): Role => (r === "A" ? "B" : "A");

type Wire =
  | { kind: "proof"; signed: SignedBalanceProof; domain: ChannelDomain }
  | {
      kind: "proposal" | "countersig";
      settlement: Settlement;
      signature: Uint8Array;
      domain: ChannelDomain;
    };

interface Msg {
  readonly to: Role;
  readonly wire: Wire;
  readonly genuine: boolean;
}

/** A reference contract: what PaymentChannels.sol does, enough for the test. */
interface Chain {
  status: "open" | "closed" | "settled";
  depA: bigint;
  depB: bigint;
  proofA: BalanceProof | null;
  proofB: BalanceProof | null;
  deadline: bigint;
  closer: Role | null;
  closerHonest: boolean;
  payouts: { payoutA: bigint; payoutB: bigint; cooperative: boolean } | null;
}

interface Real {
  views: Record<Role, ChannelState>;
  net: Msg[];
  delivered: Msg[];
  /** Every proof each side signed, oldest first (for stale closes). */
  signedBy: Record<Role, SignedBalanceProof[]>;
  chain: Chain;
}

interface PeerModel {
  sentNonce: bigint;
  sent: bigint;
  recvNonce: bigint;
  recv: bigint;
  frozen: boolean;
}

interface Model {
  /** Commands run so far (closing commands wait for some traffic first). */
  steps: number;
  depA: bigint;
  depB: bigint;
  A: PeerModel;
  B: PeerModel;
}

const dep = (m: Model | Chain, r: Role) =>
  r === "A" ? ("depA" in m ? m.depA : 0n) : "depB" in m ? m.depB : 0n;

function modelBalance(m: Model, r: Role): bigint {
  const p = m[r];
  return dep(m, r) - p.sent + p.recv;
}

const ctxOf = (r: Role) => (r === "A" ? ctxA : ctxB);

/** Applies an input to one view and carries out its effects (network and chain). */
function apply(real: Real, r: Role, input: ChannelInput, now = 1_000n): ChannelEffect[] {
  const { state, effects } = transition(real.views[r], input, { ...ctxOf(r), now });
  real.views[r] = state;
  for (const e of effects) {
    switch (e.type) {
      case "SendBalanceProof":
        real.signedBy[r].push(e.signed);
        real.net.push({
          to: other(r),
          genuine: true,
          wire: { kind: "proof", signed: e.signed, domain },
        });
        break;
      case "SendSettlementProposal":
      case "SendSettlementSignature":
        real.net.push({
          to: other(r),
          genuine: true,
          wire: {
            kind: e.type === "SendSettlementProposal" ? "proposal" : "countersig",
            settlement: e.settlement,
            signature: e.signature,
            domain,
          },
        });
        break;
      case "ChainSendClose":
        chainClose(real, r, e.proof?.proof ?? null, true);
        break;
      case "ChainSendUpdateProof":
        chainUpdate(real, e.signed);
        break;
      case "ChainSendCooperativeClose":
        chainCoopClose(real, e.settlement, e.signatureA, e.signatureB);
        break;
      case "ChainSendSettle":
        chainSettle(real, now);
        break;
      default:
        break;
    }
  }
  return [...effects];
}

function broadcast(real: Real, input: ChannelInput, now = 1_000n): void {
  apply(real, "A", input, now);
  apply(real, "B", input, now);
}

function chainClose(
  real: Real,
  closer: Role,
  partnerProof: BalanceProof | null,
  honest: boolean,
): void {
  const c = real.chain;
  if (c.status !== "open") return;
  c.status = "closed";
  c.closer = closer;
  c.closerHonest = honest;
  c.deadline = 2_000n;
  if (closer === "A") c.proofB = partnerProof;
  else c.proofA = partnerProof;
  broadcast(real, {
    type: "ChainChannelClosed",
    channelId: id,
    closedBy: closer,
    proof: partnerProof,
    settleDeadline: c.deadline,
  });
}

function chainUpdate(real: Real, signed: SignedBalanceProof): void {
  const c = real.chain;
  if (c.status !== "closed") return;
  const r = verifier.recoverAddress(digestOf(signed.proof), signed.signature);
  if (!r.ok) return;
  const role: Role | null = r.value === alice.address ? "A" : r.value === bob.address ? "B" : null;
  if (role === null || signed.proof.channelId !== id) return;
  const held = role === "A" ? c.proofA : c.proofB;
  if (compareProofs(signed.proof, held) <= 0) return;
  if (role === "A") c.proofA = signed.proof;
  else c.proofB = signed.proof;
  broadcast(real, { type: "ChainProofUpdated", channelId: id, signer: role, proof: signed.proof });
}

const dom = eip712Domain(domain);
const digestOf = (p: BalanceProof) => balanceProofDigest(dom, p);

function chainCoopClose(real: Real, s: Settlement, sigA: Uint8Array, sigB: Uint8Array): void {
  const c = real.chain;
  if (c.status !== "open") return;
  if (!verifier.verifySettlement(domain, s, sigA, alice.address).ok) return;
  if (!verifier.verifySettlement(domain, s, sigB, bob.address).ok) return;
  if (s.payoutA + s.payoutB !== c.depA + c.depB) return; // the contract reverts
  c.status = "settled";
  c.payouts = { payoutA: s.payoutA, payoutB: s.payoutB, cooperative: true };
  broadcast(real, { type: "ChainChannelSettled", channelId: id, ...c.payouts });
}

function chainSettle(real: Real, now: bigint): void {
  const c = real.chain;
  if (c.status !== "closed" || now < c.deadline) return;
  const p = computePayouts(
    c.depA,
    c.depB,
    c.proofA?.transferred ?? 0n,
    c.proofB?.transferred ?? 0n,
  );
  c.status = "settled";
  c.payouts = { ...p, cooperative: false };
  broadcast(real, { type: "ChainChannelSettled", channelId: id, ...c.payouts }, now);
}

/** Turns a wire message into the input the shell would give the receiver (verifying first). */
function inputOf(msg: Msg): ChannelInput {
  const expected = signerOf(other(msg.to)).address;
  const w = msg.wire;
  if (w.kind === "proof") {
    return {
      type: "ReceiveBalanceProof",
      signed: w.signed,
      domain: w.domain,
      check: verifier.verifyBalanceProof(w.domain, w.signed.proof, w.signed.signature, expected),
    };
  }
  return {
    type: w.kind === "proposal" ? "ReceiveSettlementProposal" : "ReceiveSettlementSignature",
    settlement: w.settlement,
    signature: w.signature,
    domain: w.domain,
    check: verifier.verifySettlement(w.domain, w.settlement, w.signature, expected),
  };
}

/** Delivers a message; the model predicts proof acceptance; replays/forgeries must change nothing. */
function deliver(model: Model, real: Real, msg: Msg, isReplay: boolean): void {
  const to = msg.to;
  const before = real.views[to];
  const effects = apply(real, to, inputOf(msg));
  const w = msg.wire;
  if (w.kind === "proof") {
    const p = model[to];
    const accept =
      msg.genuine &&
      real.chain.status === "open" &&
      !p.frozen &&
      w.signed.proof.nonce > p.recvNonce &&
      dep(model, other(to)) + p.sent - w.signed.proof.transferred >= 0n;
    if (accept) {
      expect(isReplay).toBe(false);
      p.recvNonce = w.signed.proof.nonce;
      p.recv = w.signed.proof.transferred;
      expect(effects.map((e) => e.type)).toEqual(["NotifyPaymentReceived"]);
    } else {
      // Rejected: the very same state object, and only an InvalidReceived effect.
      expect(real.views[to]).toBe(before);
      expect(effects.map((e) => e.type)).toEqual(["InvalidReceivedBalanceProof"]);
    }
  } else if (!msg.genuine) {
    expect(real.views[to]).toBe(before);
  } else if (
    w.kind === "proposal" &&
    real.views[to].settlement !== null &&
    real.views[to] !== before
  ) {
    model[to].frozen = true;
  } else if (real.views[to].settlement !== null) {
    model[to].frozen = true;
  }
  if (isReplay && w.kind === "proof") expect(real.views[to]).toBe(before);
}

function checkInvariants(model: Model, real: Real): void {
  model.steps++;
  for (const r of ["A", "B"] as const) {
    const v = real.views[r];
    const p = model[r];
    expect(v.depositA).toBe(model.depA);
    expect(v.depositB).toBe(model.depB);
    expect(v.sent?.proof.nonce ?? 0n).toBe(p.sentNonce);
    expect(v.sent?.proof.transferred ?? 0n).toBe(p.sent);
    expect(v.received?.proof.nonce ?? 0n).toBe(p.recvNonce);
    expect(v.received?.proof.transferred ?? 0n).toBe(p.recv);
    expect(v.settlement !== null).toBe(p.frozen);
    // No balance below zero in either view, and the two balances always add up to the deposits.
    expect(balanceOf(v, "A") >= 0n).toBe(true);
    expect(balanceOf(v, "B") >= 0n).toBe(true);
    expect(balanceOf(v, "A") + balanceOf(v, "B")).toBe(model.depA + model.depB);
    expect(v.status).toBe(real.chain.status);
  }
  // What one side accepted, the other really signed: received never exceeds the partner's sent.
  expect(model.A.recv <= model.B.sent && model.B.recv <= model.A.sent).toBe(true);
  const c = real.chain;
  if (c.payouts !== null) {
    expect(c.payouts.payoutA + c.payouts.payoutB).toBe(c.depA + c.depB);
    for (const r of ["A", "B"] as const) {
      const honest = c.payouts.cooperative || c.closer !== r || c.closerHonest;
      const payout = r === "A" ? c.payouts.payoutA : c.payouts.payoutB;
      // A stale proof never wins: an honest party is paid at least its own view's balance.
      if (honest) expect(payout >= balanceOf(real.views[r], r)).toBe(true);
      expect(real.views[r].payouts).toEqual(c.payouts);
    }
  }
}

type Cmd = fc.Command<Model, Real>;

class Pay implements Cmd {
  constructor(
    readonly from: Role,
    readonly amount: bigint,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const p = m[this.from];
    const ok = r.chain.status === "open" && !p.frozen && modelBalance(m, this.from) >= this.amount;
    apply(r, this.from, { type: "ActionPay", amount: this.amount });
    if (ok) {
      p.sentNonce += 1n;
      p.sent += this.amount;
    }
    checkInvariants(m, r);
  }
  toString = () => `Pay(${this.from}, ${this.amount})`;
}

class Deliver implements Cmd {
  constructor(readonly index: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (r.net.length === 0) return;
    const [msg] = r.net.splice(this.index % r.net.length, 1);
    deliver(m, r, msg!, r.delivered.includes(msg!));
    r.delivered.push(msg!);
    checkInvariants(m, r);
  }
  toString = () => `Deliver(${this.index})`;
}

class Duplicate implements Cmd {
  constructor(readonly index: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (r.net.length > 0) r.net.push(r.net[this.index % r.net.length]!);
    checkInvariants(m, r);
  }
  toString = () => `Duplicate(${this.index})`;
}

class Replay implements Cmd {
  constructor(readonly index: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const proofs = r.delivered.filter((d) => d.wire.kind === "proof");
    if (proofs.length === 0) return;
    deliver(m, r, proofs[this.index % proofs.length]!, true);
    checkInvariants(m, r);
  }
  toString = () => `Replay(${this.index})`;
}

class Forge implements Cmd {
  constructor(
    readonly to: Role,
    readonly how: number,
    readonly amount: bigint,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const from = other(this.to);
    const p = m[from];
    const proof = { channelId: id, nonce: p.sentNonce + 1n, transferred: p.sent + this.amount };
    let wire: Wire;
    if (this.how === 0) {
      wire = {
        kind: "proof",
        domain,
        signed: { proof, signature: mallory.signBalanceProof(domain, proof) },
      };
    } else if (this.how === 1) {
      const sig = signerOf(from).signBalanceProof(domain, proof);
      wire = {
        kind: "proof",
        domain,
        signed: { proof: { ...proof, transferred: proof.transferred + 1n }, signature: sig },
      };
    } else if (this.how === 2) {
      wire = {
        kind: "proof",
        domain: otherDomain,
        signed: { proof, signature: signerOf(from).signBalanceProof(otherDomain, proof) },
      };
    } else if (this.how === 3) {
      const elsewhere = { ...proof, channelId: channelIdOf(43) };
      wire = {
        kind: "proof",
        domain,
        signed: { proof: elsewhere, signature: signerOf(from).signBalanceProof(domain, elsewhere) },
      };
    } else {
      const s = { channelId: id, payoutA: m.depA + m.depB, payoutB: 0n };
      const flipped = this.to === "A" ? s : { ...s, payoutA: 0n, payoutB: m.depA + m.depB };
      wire = {
        kind: "proposal",
        domain,
        settlement: flipped,
        signature: mallory.signSettlement(domain, flipped),
      };
    }
    deliver(m, r, { to: this.to, wire, genuine: false }, false);
    checkInvariants(m, r);
  }
  toString = () => `Forge(${this.to}, ${this.how})`;
}

/** A validly signed proof that spends more than the sender has: must never be accepted. */
class Overspend implements Cmd {
  constructor(
    readonly from: Role,
    readonly extra: bigint,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const to = other(this.from);
    const p = m[this.from];
    // The receiver's view of the sender's balance: deposit + what the receiver sent − sent so far.
    const room = dep(m, this.from) + m[to].sent - m[to].recv;
    const proof = {
      channelId: id,
      nonce: p.sentNonce + 1n,
      transferred: m[to].recv + room + this.extra,
    };
    const signed = { proof, signature: signerOf(this.from).signBalanceProof(domain, proof) };
    deliver(m, r, { to, wire: { kind: "proof", domain, signed }, genuine: false }, false);
    checkInvariants(m, r);
  }
  toString = () => `Overspend(${this.from}, ${this.extra})`;
}

class TopUp implements Cmd {
  constructor(
    readonly who: Role,
    readonly amount: bigint,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (r.chain.status !== "open") return;
    if (this.who === "A") r.chain.depA = m.depA += this.amount;
    else r.chain.depB = m.depB += this.amount;
    const total = this.who === "A" ? m.depA : m.depB;
    broadcast(r, { type: "ChainDeposited", channelId: id, participant: this.who, total });
    // A replayed chain event changes nothing.
    const before = { ...r.views };
    broadcast(r, { type: "ChainDeposited", channelId: id, participant: this.who, total });
    expect(r.views.A).toBe(before.A);
    expect(r.views.B).toBe(before.B);
    checkInvariants(m, r);
  }
  toString = () => `TopUp(${this.who}, ${this.amount})`;
}

const late = (m: Readonly<Model>) => m.steps >= 25;

class Propose implements Cmd {
  constructor(readonly who: Role) {}
  check = late;
  run(m: Model, r: Real): void {
    apply(r, this.who, { type: "ActionProposeSettlement" });
    if (r.chain.status === "open") m[this.who].frozen = true;
    checkInvariants(m, r);
  }
  toString = () => `Propose(${this.who})`;
}

class HonestClose implements Cmd {
  constructor(readonly who: Role) {}
  check = late;
  run(m: Model, r: Real): void {
    apply(r, this.who, { type: "ActionClose" });
    checkInvariants(m, r);
  }
  toString = () => `HonestClose(${this.who})`;
}

class StaleClose implements Cmd {
  constructor(
    readonly who: Role,
    readonly index: number,
  ) {}
  check = late;
  run(m: Model, r: Real): void {
    if (r.chain.status !== "open") return;
    // A dishonest closer: submits an old proof of the partner's (or none), then an old one of its own.
    const partnerProofs = r.signedBy[other(this.who)];
    const pick =
      partnerProofs.length === 0 ? null : partnerProofs[this.index % partnerProofs.length]!;
    chainClose(r, this.who, pick === null || this.index % 3 === 0 ? null : pick.proof, false);
    const own = r.signedBy[this.who];
    if (own.length > 0) chainUpdate(r, own[this.index % own.length]!);
    checkInvariants(m, r);
  }
  toString = () => `StaleClose(${this.who}, ${this.index})`;
}

class Settle implements Cmd {
  constructor(readonly who: Role) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const early = apply(r, this.who, { type: "ActionSettle" }, 1_500n);
    if (r.chain.status === "closed") {
      expect(early.map((e) => e.type)).toEqual(["NotifyActionRejected"]);
    }
    apply(r, this.who, { type: "ActionSettle" }, 2_000n);
    checkInvariants(m, r);
  }
  toString = () => `Settle(${this.who})`;
}

const role = fc.constantFrom<Role>("A", "B");
const pay = fc.tuple(role, fc.bigInt({ min: 1n, max: 40n })).map(([w, a]) => new Pay(w, a));
const deliverCmd = fc.nat().map((i) => new Deliver(i));
const commands = [
  pay,
  pay,
  pay,
  pay,
  deliverCmd,
  deliverCmd,
  deliverCmd,
  deliverCmd,
  deliverCmd,
  fc.nat().map((i) => new Duplicate(i)),
  fc.nat().map((i) => new Replay(i)),
  fc
    .tuple(role, fc.integer({ min: 0, max: 4 }), fc.bigInt({ min: 0n, max: 100n }))
    .map(([t, h, a]) => new Forge(t, h, a)),
  fc.tuple(role, fc.bigInt({ min: 1n, max: 80n })).map(([w, a]) => new TopUp(w, a)),
  fc.tuple(role, fc.bigInt({ min: 1n, max: 3n })).map(([w, a]) => new Overspend(w, a)),
  fc
    .constant(null)
    .chain(() => role)
    .map((w) => new Propose(w)),
  role.map((w) => new HonestClose(w)),
  fc.tuple(role, fc.nat()).map(([w, i]) => new StaleClose(w, i)),
  role.map((w) => new Settle(w)),
];

describe("two peers, model-based", () => {
  it("views match the model; balances never negative; tokens conserved; replays change nothing; stale proofs never win", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 200n }),
        fc.bigInt({ min: 0n, max: 200n }),
        fc.commands(commands, { maxCommands: 100, size: "max" }),
        (depA, depB, cmds) => {
          const { a, b } = openPair(depA, depB, id);
          const real: Real = {
            views: { A: a, B: b },
            net: [],
            delivered: [],
            signedBy: { A: [], B: [] },
            chain: {
              status: "open",
              depA,
              depB,
              proofA: null,
              proofB: null,
              deadline: 0n,
              closer: null,
              closerHonest: true,
              payouts: null,
            },
          };
          const peer = (): PeerModel => ({
            sentNonce: 0n,
            sent: 0n,
            recvNonce: 0n,
            recv: 0n,
            frozen: false,
          });
          const model: Model = { steps: 0, depA, depB, A: peer(), B: peer() };
          fc.modelRun(() => ({ model, real }), cmds);
          // Deliver everything left, then settle: the end state must still be consistent.
          while (real.net.length > 0) {
            const msg = real.net.shift()!;
            deliver(model, real, msg, real.delivered.includes(msg));
            real.delivered.push(msg);
          }
          checkInvariants(model, real);
        },
      ),
      { numRuns: 150 },
    );
  });
});
