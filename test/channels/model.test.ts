/**
 * Model-based test (fast-check commands): two peers drive the real cores through random payments
 * both ways, top-ups, delivered/duplicated/reordered/replayed/forged messages, and cooperative or
 * unilateral closes (also with stale proofs), against a simple model. Each peer runs the channel
 * core (payments, cooperative settlement) and the dispute machine (unilateral close, updates,
 * settle), both fed by the in-memory settlement chain, which carries out their effects. After
 * every step: each view matches the model, no balance is negative, tokens are conserved on and
 * off chain; replays and forgeries change nothing; at settlement every honest party gets at least
 * its balance.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import { isSettlementError } from "../../channels/settlement/errors.ts";
import type { ChainEvent } from "../../channels/settlement/events.ts";
import { MemoryChain } from "../../channels/settlement/memory/memory-chain.ts";
import type { SignedBalanceProof } from "../../channels/signed.ts";
import { balanceOf } from "../../channels/state/balances.ts";
import { type ChannelState, createChannel } from "../../channels/state/channel-state.ts";
import type { ChannelEffect } from "../../channels/state/effects.ts";
import type { ChannelInput } from "../../channels/state/inputs.ts";
import { transition } from "../../channels/state/transition.ts";
import type { ChannelDomain, ChannelId, Role, Settlement } from "../../channels/types.ts";
import {
  initialWatcherState,
  type WatcherEffect,
  type WatcherInput,
  type WatcherState,
  watcherTransition,
} from "../../channels/watcher/core.ts";
import { alice, bob, channelIdOf, ctxA, ctxB, domain, mallory, otherDomain } from "./helpers.ts";

const verifier = new ProofVerifier();
/** Each participant's tokens outside the channel at the start. */
const FUNDS = 1_000_000n;
const WINDOW = 1_000;
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

interface Real {
  readonly id: ChannelId;
  /** The settlement backend both peers act on; its events reach both cores and both machines. */
  readonly chain: MemoryChain;
  /** The feed's cursor: every event up to here was delivered. */
  cursor: number;
  views: Record<Role, ChannelState>;
  machines: Record<Role, WatcherState>;
  net: Msg[];
  delivered: Msg[];
  /** Every proof each side signed, oldest first (for stale closes). */
  signedBy: Record<Role, SignedBalanceProof[]>;
  closer: Role | null;
  closerHonest: boolean;
  payouts: { payoutA: bigint; payoutB: bigint; cooperative: boolean } | null;
  depA: bigint;
  depB: bigint;
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

const dep = (m: Model, r: Role) => (r === "A" ? m.depA : m.depB);
const addressOf = (r: Role) => signerOf(r).address;

/** The channel's status on chain, named as the cores name it. */
function chainStatus(real: Real): ChannelState["status"] {
  const status = real.chain.read(real.id).status;
  return status === "open" ? "open" : status === "closing" ? "closed" : "settled";
}

function modelBalance(m: Model, r: Role): bigint {
  const p = m[r];
  return dep(m, r) - p.sent + p.recv;
}

const ctxOf = (r: Role) => (r === "A" ? ctxA : ctxB);

/** Applies an input to one view and carries out its effects (network and chain). */
function apply(real: Real, r: Role, input: ChannelInput): ChannelEffect[] {
  const { state, effects } = transition(real.views[r], input, ctxOf(r));
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
      case "ChainSendCooperativeClose":
        submit(real, r, e);
        pump(real);
        break;
      default:
        break;
    }
  }
  return [...effects];
}

/** Runs an input through `r`'s dispute machine; its chain effects go to the chain. */
function machine(real: Real, r: Role, input: WatcherInput): WatcherEffect[] {
  const { state, effects } = watcherTransition(real.machines[r], input);
  real.machines[r] = state;
  for (const e of effects) {
    if (
      e.type !== "ChainSendClose" &&
      e.type !== "ChainSendUpdateProof" &&
      e.type !== "ChainSendSettle"
    )
      continue;
    if (!submit(real, r, e)) {
      const effect =
        e.type === "ChainSendClose"
          ? "close"
          : e.type === "ChainSendUpdateProof"
            ? "update"
            : "settle";
      real.machines[r] = watcherTransition(real.machines[r], {
        type: "ActionEffectFailed",
        channelId: e.channelId,
        effect,
      }).state;
    }
  }
  return [...effects];
}

/** Sends an effect as `r`; a refusal (the contract would revert) changes nothing. */
function submit(real: Real, r: Role, effect: Parameters<MemoryChain["execute"]>[1]): boolean {
  try {
    real.chain.execute(addressOf(r), effect);
    return true;
  } catch (err) {
    if (!isSettlementError(err)) throw err;
    return false;
  }
}

/** The part of a feed event the channel core takes, if any. */
function coreInput(e: ChainEvent): ChannelInput | undefined {
  return e.type === "ChainChannelOpened" ||
    e.type === "ChainDeposited" ||
    e.type === "ChainChannelClosed" ||
    e.type === "ChainChannelSettled"
    ? e
    : undefined;
}

/**
 * Delivers the feed to both cores and both machines and lets the machines act on the chain's
 * clock, until nothing more happens (what each peer's shell does on every poll).
 */
function pump(real: Real): void {
  for (let round = 0; ; round++) {
    if (round > 50) throw new Error("the peers never settle down");
    const events = real.chain.eventsBetween(real.cursor, real.chain.block);
    for (const e of events) {
      if (e.type === "ChainBlock") real.cursor = e.block;
      if (e.type === "ChainChannelClosed") {
        real.closer ??= e.closer === addressOf("A") ? "A" : "B";
      }
      if (e.type === "ChainChannelSettled") {
        real.payouts = {
          payoutA: e.payoutA,
          payoutB: e.payoutB,
          cooperative: real.closer === null,
        };
      }
      const input = coreInput(e);
      if (input) {
        apply(real, "A", input);
        apply(real, "B", input);
      }
      machine(real, "A", e);
      machine(real, "B", e);
    }
    const before = real.chain.block;
    for (const r of ["A", "B"] as const) {
      const received = real.views[r].received;
      machine(real, r, {
        type: "ActionTick",
        now: real.chain.time,
        partnerProofs: new Map(received ? [[real.id, received]] : []),
      });
    }
    if (events.length === 0 && real.chain.block === before) return;
  }
}

/** The committed state on chain while closing. */
function committed(real: Real) {
  const view = real.chain.read(real.id);
  return view.status === "closing" ? view.closing : undefined;
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
      chainStatus(real) === "open" &&
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
    expect(v.status).toBe(chainStatus(real));
  }
  // What one side accepted, the other really signed: received never exceeds the partner's sent.
  expect(model.A.recv <= model.B.sent && model.B.recv <= model.A.sent).toBe(true);
  // Tokens are conserved on chain: what the participants hold plus what the channel holds.
  const chain = real.chain;
  expect(chain.balanceOf(alice.address) + chain.balanceOf(bob.address) + chain.locked).toBe(
    2n * FUNDS,
  );
  const c = real.payouts;
  if (c !== null) {
    expect(c.payoutA + c.payoutB).toBe(real.depA + real.depB);
    for (const r of ["A", "B"] as const) {
      const honest = c.cooperative || real.closer !== r || real.closerHonest;
      const payout = r === "A" ? c.payoutA : c.payoutB;
      // A stale proof never wins: an honest party is paid at least its own view's balance.
      if (honest) expect(payout >= balanceOf(real.views[r], r)).toBe(true);
      expect(real.views[r].payouts).toEqual(c);
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
    const ok = chainStatus(r) === "open" && !p.frozen && modelBalance(m, this.from) >= this.amount;
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
    const proof = { channelId: r.id, nonce: p.sentNonce + 1n, transferred: p.sent + this.amount };
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
      const s = { channelId: r.id, payoutA: m.depA + m.depB, payoutB: 0n };
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
      channelId: r.id,
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
    if (chainStatus(r) !== "open") return;
    const deposited = submit(r, this.who, {
      type: "ChainSendDeposit",
      channelId: r.id,
      participant: this.who,
      amount: this.amount,
    });
    expect(deposited).toBe(true);
    if (this.who === "A") r.depA = m.depA += this.amount;
    else r.depB = m.depB += this.amount;
    pump(r);
    // A replayed chain event changes nothing, for the cores and for the machines.
    const total = this.who === "A" ? m.depA : m.depB;
    const replay = {
      type: "ChainDeposited",
      channelId: r.id,
      participant: this.who,
      total,
    } as const;
    const before = { ...r.views };
    const machines = { ...r.machines };
    apply(r, "A", replay);
    apply(r, "B", replay);
    machine(r, "A", replay);
    machine(r, "B", replay);
    expect(r.views.A).toBe(before.A);
    expect(r.views.B).toBe(before.B);
    expect(r.machines.A).toBe(machines.A);
    expect(r.machines.B).toBe(machines.B);
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
    if (chainStatus(r) === "open") m[this.who].frozen = true;
    checkInvariants(m, r);
  }
  toString = () => `Propose(${this.who})`;
}

class HonestClose implements Cmd {
  constructor(readonly who: Role) {}
  check = late;
  run(m: Model, r: Real): void {
    const open = chainStatus(r) === "open";
    const effects = machine(r, this.who, {
      type: "ActionClose",
      channelId: r.id,
      partnerProof: r.views[this.who].received,
    });
    if (open) {
      expect(effects.map((e) => e.type)).toEqual(["ChainSendClose"]);
      r.closer = this.who;
      r.closerHonest = true;
    } else {
      expect(effects.map((e) => e.type)).toEqual(["NotifyActionRejected"]);
    }
    pump(r);
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
    if (chainStatus(r) !== "open") return;
    // A dishonest closer: submits an old proof of the partner's (or none), then an old one of its own.
    const partnerProofs = r.signedBy[other(this.who)];
    const pick =
      partnerProofs.length === 0 ? null : partnerProofs[this.index % partnerProofs.length]!;
    const proof = pick === null || this.index % 3 === 0 ? null : pick;
    expect(submit(r, this.who, { type: "ChainSendClose", channelId: r.id, proof })).toBe(true);
    r.closer = this.who;
    r.closerHonest = false;
    const own = r.signedBy[this.who];
    if (own.length > 0) {
      submit(r, this.who, {
        type: "ChainSendUpdateProof",
        channelId: r.id,
        closing: committed(r)!,
        signer: this.who,
        signed: own[this.index % own.length]!,
      });
    }
    pump(r);
    checkInvariants(m, r);
  }
  toString = () => `StaleClose(${this.who}, ${this.index})`;
}

class Settle implements Cmd {
  constructor(readonly who: Role) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const early = machine(r, this.who, {
      type: "ActionSettle",
      channelId: r.id,
      now: r.chain.time,
    });
    if (chainStatus(r) === "closed") {
      expect(early).toEqual([
        expect.objectContaining({ type: "NotifyActionRejected", code: "SETTLE_TOO_EARLY" }),
      ]);
    }
    // The window passes; both machines settle by themselves on their next tick.
    r.chain.advance(WINDOW);
    pump(r);
    expect(chainStatus(r)).not.toBe("closed");
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
          const chain = new MemoryChain({
            domain,
            time: 1_000,
            balances: [
              [alice.address, FUNDS],
              [bob.address, FUNDS],
            ],
          });
          const { channelId: id } = chain.execute(alice.address, {
            type: "ChainSendOpen",
            partner: bob.address,
            amount: depA,
            settleWindow: WINDOW,
          });
          if (depB > 0n) {
            chain.execute(bob.address, {
              type: "ChainSendDeposit",
              channelId: id,
              participant: "B",
              amount: depB,
            });
          }
          const view = (self: Role) =>
            createChannel({
              channelId: id,
              domain,
              participantA: alice.address,
              participantB: bob.address,
              self,
              settleTimeout: BigInt(WINDOW),
            });
          const real: Real = {
            id,
            chain,
            cursor: 0,
            views: { A: view("A"), B: view("B") },
            machines: {
              A: initialWatcherState(alice.address, 0),
              B: initialWatcherState(bob.address, 0),
            },
            net: [],
            delivered: [],
            signedBy: { A: [], B: [] },
            closer: null,
            closerHonest: true,
            payouts: null,
            depA,
            depB,
          };
          pump(real);
          const peer = (): PeerModel => ({
            sentNonce: 0n,
            sent: 0n,
            recvNonce: 0n,
            recv: 0n,
            frozen: false,
          });
          const model: Model = { steps: 0, depA, depB, A: peer(), B: peer() };
          fc.modelRun(() => ({ model, real }), cmds);
          // Deliver everything left, then let any window end: the end state must still be consistent.
          while (real.net.length > 0) {
            const msg = real.net.shift()!;
            deliver(model, real, msg, real.delivered.includes(msg));
            real.delivered.push(msg);
          }
          real.chain.advance(WINDOW);
          pump(real);
          checkInvariants(model, real);
        },
      ),
      { numRuns: 150 },
    );
  });
});
