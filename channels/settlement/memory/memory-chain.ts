/**
 * An in-memory settlement chain for the cores' tests (go-nitro's mock chain is the model): a real
 * implementation of the channel semantics PaymentChannels has, not a recording stub. Deposits,
 * a close with the partner's proof, better proofs during the window, settle after it, cooperative
 * close, token balances that payouts conserve, signatures checked under one EIP-712 domain, and a
 * clock that only the test moves. Every transaction mines one block at the clock's time.
 */
import { normalizeAddress } from "../../crypto/address.ts";
import { keccak256 } from "../../crypto/keccak.ts";
import { ProofVerifier } from "../../crypto/verifier.ts";
import { compareProofs } from "../../proof-order.ts";
import {
  type Address,
  asChannelId,
  type ChannelDomain,
  type ChannelId,
  type CommittedState,
} from "../../types.ts";
import type {
  ChannelView,
  ResolvedChannel,
  SendOutcomes,
  SettlementBackend,
  SettlementTx,
} from "../backend.ts";
import { asChannelRef, type ChannelRef } from "../channel-ref.ts";
import {
  committedAtClose,
  computePayouts,
  heldProof,
  roleOf,
  withProofUpdate,
} from "../committed.ts";
import type {
  ChainSendClose,
  ChainSendCooperativeClose,
  ChainSendDeposit,
  ChainSendOpen,
  ChainSendSettle,
  ChainSendUpdateProof,
  SettlementEffect,
} from "../effects.ts";
import { SettlementError, type SettlementResult } from "../errors.ts";
import type { ChainEvent } from "../events.ts";
import type { SignedPaymentProof } from "../payment-proof.ts";

/** Options of {@link MemoryChain}. */
export interface MemoryChainOptions {
  /** The domain balance proofs and settlements are signed under. */
  readonly domain: ChannelDomain;
  /** Token balances to start with. */
  readonly balances?: Iterable<readonly [Address, bigint]>;
  /** The clock at the start, Unix seconds (default 1,700,000,000). */
  readonly time?: number;
  /** Settle windows accepted at open, seconds (default 1 to 2^24 − 1, the contract's range). */
  readonly minSettleWindow?: number;
  readonly maxSettleWindow?: number;
}

interface Entry {
  readonly channelId: ChannelId;
  readonly ref: ChannelRef;
  readonly a: Address;
  readonly b: Address;
  depositA: bigint;
  depositB: bigint;
  readonly settleWindow: number;
  closing: CommittedState | null;
  finalizesAt: number;
}

/** Deposits are uint112 on chain; the same cap here keeps the two backends alike. */
const MAX_DEPOSIT = (1n << 112n) - 1n;
const MAX_WINDOW = 2 ** 24 - 1;

/** An in-memory chain shared by the participants; each acts through {@link MemoryChain.backendFor}. */
export class MemoryChain {
  readonly domain: ChannelDomain;
  #block = 0;
  #time: number;
  #opened = 0n;
  readonly #minWindow: number;
  readonly #maxWindow: number;
  readonly #balances = new Map<Address, bigint>();
  readonly #channels = new Map<ChannelId, Entry>();
  /** Every event with its block, in order. */
  readonly #log: { readonly block: number; readonly event: ChainEvent }[] = [];
  readonly #verifier = new ProofVerifier({ mode: "recover" });

  constructor(opts: MemoryChainOptions) {
    this.domain = opts.domain;
    this.#time = opts.time ?? 1_700_000_000;
    this.#minWindow = opts.minSettleWindow ?? 1;
    this.#maxWindow = opts.maxSettleWindow ?? MAX_WINDOW;
    for (const [owner, amount] of opts.balances ?? []) this.mint(owner, amount);
  }

  /** The latest block. */
  get block(): number {
    return this.#block;
  }

  /** The clock: the time the next block will carry. */
  get time(): number {
    return this.#time;
  }

  /** Moves the clock forward; no block is mined (as `evm_increaseTime` on a development chain). */
  advance(seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0) throw new RangeError("seconds must be >= 0");
    this.#time += seconds;
  }

  /** Creates `amount` tokens for `owner`. */
  mint(owner: Address, amount: bigint): void {
    const who = normalizeAddress(owner);
    this.#balances.set(who, this.balanceOf(who) + amount);
  }

  /** `owner`'s token balance outside the channels. */
  balanceOf(owner: Address): bigint {
    return this.#balances.get(normalizeAddress(owner)) ?? 0n;
  }

  /** Tokens the open and closing channels hold. */
  get locked(): bigint {
    let sum = 0n;
    for (const c of this.#channels.values()) sum += c.depositA + c.depositB;
    return sum;
  }

  /**
   * Carries out `effect` as `sender` in one new block.
   * @throws SettlementError with the code PaymentChannels' revert maps to.
   */
  execute<E extends SettlementEffect>(sender: Address, effect: E): SendOutcomes[E["type"]] {
    const from = normalizeAddress(sender);
    const e = effect as SettlementEffect;
    let out: SendOutcomes[SettlementEffect["type"]];
    switch (e.type) {
      case "ChainSendOpen":
        out = this.#open(from, e);
        break;
      case "ChainSendDeposit":
        out = this.#deposit(from, e);
        break;
      case "ChainSendCooperativeClose":
        out = this.#cooperativeClose(e);
        break;
      case "ChainSendClose":
        out = this.#close(from, e);
        break;
      case "ChainSendUpdateProof":
        out = this.#update(e);
        break;
      case "ChainSendSettle":
        out = this.#settle(e);
        break;
    }
    return out as SendOutcomes[E["type"]];
  }

  /** The events of blocks `after + 1 .. to` (at most the latest), then a `ChainBlock`. */
  eventsBetween(after: number, to: number): ChainEvent[] {
    const last = Math.min(to, this.#block);
    if (last <= after) return [];
    const out: ChainEvent[] = [];
    for (const { block, event } of this.#log) {
      if (block > after && block <= last) out.push(event);
    }
    out.push({ type: "ChainBlock", block: last });
    return out;
  }

  /** Reads a channel. */
  read(channelId: ChannelId): ChannelView {
    const c = this.#channels.get(channelId);
    if (c === undefined) return { status: "none", channelId };
    if (c.closing !== null) {
      return {
        status: "closing",
        channelId,
        ref: c.ref,
        a: c.a,
        b: c.b,
        closing: c.closing,
        finalizesAt: c.finalizesAt,
      };
    }
    return {
      status: "open",
      channelId,
      ref: c.ref,
      a: c.a,
      b: c.b,
      depositA: c.depositA,
      depositB: c.depositB,
      settleWindow: c.settleWindow,
    };
  }

  /** Resolves a reference this chain made to its open channel. */
  resolve(ref: ChannelRef): SettlementResult<ResolvedChannel> {
    const valid = asChannelRef(ref);
    if (valid === undefined || valid.length !== 2 + 2 * REF_BYTES) {
      return { ok: false, code: "REF_INVALID", reason: "not a reference of the in-memory chain" };
    }
    const view = this.read(channelIdOfRef(valid));
    if (view.status !== "open") {
      return { ok: false, code: "CHANNEL_UNKNOWN", reason: `channel is ${view.status}` };
    }
    return { ok: true, value: view };
  }

  /** The settlement interface acting as `account`. */
  backendFor(account: Address): SettlementBackend {
    const me = normalizeAddress(account);
    const chain = this;
    return {
      domain: chain.domain,
      account: async () => me,
      balanceOf: async (owner) => chain.balanceOf(owner),
      now: async () => ({ block: chain.block, time: chain.time }),
      async *events(after, to) {
        yield* chain.eventsBetween(after, to);
      },
      send: async (effect) => chain.execute(me, effect),
      channel: async (channelId) => chain.read(channelId),
      resolve: async (ref) => chain.resolve(ref),
    };
  }

  #open(from: Address, e: ChainSendOpen): SendOutcomes["ChainSendOpen"] {
    const partner = normalizeAddress(e.partner);
    if (partner === from || /^0x0{40}$/.test(partner)) {
      throw new SettlementError("INVALID_ARGUMENT", `cannot open a channel to ${partner}`);
    }
    if (
      !Number.isInteger(e.settleWindow) ||
      e.settleWindow < this.#minWindow ||
      e.settleWindow > this.#maxWindow
    ) {
      throw new SettlementError(
        "INVALID_ARGUMENT",
        `settle window ${e.settleWindow} s is outside ${this.#minWindow}..${this.#maxWindow}`,
      );
    }
    this.#checkAmount(e.amount, e.amount);
    this.#debit(from, e.amount);
    this.#opened += 1n;
    const ref = `0x${from.slice(2)}${partner.slice(2)}${this.#opened.toString(16).padStart(16, "0")}`;
    const channelId = channelIdOfRef(ref as ChannelRef);
    this.#channels.set(channelId, {
      channelId,
      ref: ref as ChannelRef,
      a: from,
      b: partner,
      depositA: e.amount,
      depositB: 0n,
      settleWindow: e.settleWindow,
      closing: null,
      finalizesAt: 0,
    });
    const tx = this.#mine({
      type: "ChainChannelOpened",
      channelId,
      ref: ref as ChannelRef,
      a: from,
      b: partner,
      depositA: e.amount,
      settleWindow: e.settleWindow,
    });
    return { ...tx, channelId, ref: ref as ChannelRef };
  }

  #deposit(from: Address, e: ChainSendDeposit): SettlementTx {
    const c = this.#requireOpen(e.channelId);
    const total = (e.participant === "A" ? c.depositA : c.depositB) + e.amount;
    this.#checkAmount(e.amount, total);
    this.#debit(from, e.amount);
    if (e.participant === "A") c.depositA = total;
    else c.depositB = total;
    return this.#mine({
      type: "ChainDeposited",
      channelId: c.channelId,
      participant: e.participant,
      total,
    });
  }

  #cooperativeClose(e: ChainSendCooperativeClose): SettlementTx {
    const c = this.#requireOpen(e.channelId);
    const { payoutA, payoutB } = e.settlement;
    if (payoutA < 0n || payoutB < 0n || payoutA + payoutB !== c.depositA + c.depositB) {
      throw new SettlementError(
        "PAYOUTS_MISMATCH",
        `payouts ${payoutA} + ${payoutB} are not the deposits ${c.depositA + c.depositB}`,
      );
    }
    // Signed over this channel: a settlement of another channel does not verify.
    const settlement = { channelId: c.channelId, payoutA, payoutB };
    for (const [sig, who] of [
      [e.signatureA, c.a],
      [e.signatureB, c.b],
    ] as const) {
      if (!this.#verifier.verifySettlement(this.domain, settlement, sig, who).ok) {
        throw new SettlementError("INVALID_SIGNATURE", `the settlement is not signed by ${who}`);
      }
    }
    return this.#payOut(c, payoutA, payoutB);
  }

  #close(from: Address, e: ChainSendClose): SendOutcomes["ChainSendClose"] {
    const c = this.#requireOpen(e.channelId);
    const closedBy = roleOf(c, from);
    if (closedBy === undefined) {
      throw new SettlementError("NOT_PARTICIPANT", `${from} is not in channel ${c.channelId}`);
    }
    const position = e.proof?.proof ?? { nonce: 0n, transferred: 0n };
    if (position.nonce === 0n) {
      // Nonce 0 means the partner never paid: there is nothing to sign.
      if (position.transferred !== 0n) {
        throw new SettlementError("INVALID_ARGUMENT", "an empty proof cannot carry transfers");
      }
    } else {
      this.#requireProofSigner(c, e.proof!, closedBy === "A" ? c.b : c.a);
    }
    c.closing = committedAtClose(c, c, closedBy, position);
    c.finalizesAt = this.#time + c.settleWindow;
    const tx = this.#mine({
      type: "ChainChannelClosed",
      channelId: c.channelId,
      closer: from,
      proof: { nonce: position.nonce, transferred: position.transferred },
      finalizesAt: c.finalizesAt,
    });
    return { ...tx, finalizesAt: c.finalizesAt };
  }

  #update(e: ChainSendUpdateProof): SettlementTx {
    const c = this.#closing(e.channelId, e.closing);
    if (this.#time >= c.finalizesAt) {
      throw new SettlementError("WINDOW_OVER", `the window ended at ${c.finalizesAt}`);
    }
    const held = heldProof(c.closing!, e.signer);
    // The chain keeps the higher (transferred, nonce): anything else would let a stale proof win.
    if (compareProofs(e.signed.proof, held) <= 0) {
      throw new SettlementError(
        "STALE_PROOF",
        `proof (${e.signed.proof.nonce}, ${e.signed.proof.transferred}) is not better than (${held.nonce}, ${held.transferred})`,
      );
    }
    this.#requireProofSigner(c, e.signed, e.signer === "A" ? c.a : c.b);
    const position = { nonce: e.signed.proof.nonce, transferred: e.signed.proof.transferred };
    c.closing = withProofUpdate(c.closing!, e.signer, position);
    return this.#mine({
      type: "ChainProofUpdated",
      channelId: c.channelId,
      signer: e.signer,
      proof: position,
    });
  }

  #settle(e: ChainSendSettle): SettlementTx {
    const c = this.#closing(e.channelId, e.closing);
    if (this.#time < c.finalizesAt) {
      throw new SettlementError("WINDOW_RUNNING", `the window ends at ${c.finalizesAt}`);
    }
    const k = c.closing!;
    const { payoutA, payoutB } = computePayouts(k.depositA, k.depositB, k.sentA, k.sentB);
    return this.#payOut(c, payoutA, payoutB);
  }

  #payOut(c: Entry, payoutA: bigint, payoutB: bigint): SettlementTx {
    this.#channels.delete(c.channelId);
    this.#balances.set(c.a, this.balanceOf(c.a) + payoutA);
    this.#balances.set(c.b, this.balanceOf(c.b) + payoutB);
    return this.#mine({ type: "ChainChannelSettled", channelId: c.channelId, payoutA, payoutB });
  }

  #requireOpen(channelId: ChannelId): Entry {
    const c = this.#channels.get(channelId);
    if (c === undefined || c.closing !== null) {
      throw new SettlementError("CHANNEL_NOT_OPEN", `channel ${channelId} is not open`);
    }
    return c;
  }

  #closing(channelId: ChannelId, given: CommittedState): Entry {
    const c = this.#channels.get(channelId);
    if (c?.closing == null) {
      throw new SettlementError("CHANNEL_NOT_CLOSING", `channel ${channelId} is not closing`);
    }
    if (!sameCommitted(c.closing, given)) {
      throw new SettlementError(
        "CLOSING_STATE_MISMATCH",
        `the closing state given is not what channel ${channelId} holds`,
      );
    }
    return c;
  }

  #requireProofSigner(c: Entry, signed: SignedPaymentProof, signer: Address): void {
    // Checked over this channel's id, as the contract does: a proof of another channel fails.
    const proof = {
      channelId: c.channelId,
      nonce: signed.proof.nonce,
      transferred: signed.proof.transferred,
    };
    const check = this.#verifier.verifyBalanceProof(this.domain, proof, signed.signature, signer);
    if (check.ok) return;
    if (check.code === "VALUE_OUT_OF_RANGE") {
      throw new SettlementError("INVALID_ARGUMENT", check.reason);
    }
    throw new SettlementError("INVALID_SIGNATURE", `the proof is not signed by ${signer}`);
  }

  #checkAmount(amount: bigint, total: bigint): void {
    if (amount < 0n || total > MAX_DEPOSIT) {
      throw new SettlementError("INVALID_ARGUMENT", `deposit ${total} is out of range`);
    }
  }

  #debit(from: Address, amount: bigint): void {
    const balance = this.balanceOf(from);
    if (balance < amount) {
      throw new SettlementError("INSUFFICIENT_FUNDS", `${from} holds ${balance}, needs ${amount}`);
    }
    this.#balances.set(from, balance - amount);
  }

  #mine(event: ChainEvent): SettlementTx {
    this.#block += 1;
    this.#log.push({ block: this.#block, event });
    return {
      hash: `0x${this.#block.toString(16).padStart(64, "0")}`,
      blockNumber: this.#block,
      gasUsed: 0n,
    };
  }
}

/** A reference of this chain: opener ‖ partner ‖ a 64-bit sequence number. */
const REF_BYTES = 48;

function channelIdOfRef(ref: ChannelRef): ChannelId {
  const digest = keccak256(Buffer.from(ref.slice(2), "hex"));
  return asChannelId(`0x${Buffer.from(digest).toString("hex")}`);
}

function sameCommitted(x: CommittedState, y: CommittedState): boolean {
  return (
    x.a.toLowerCase() === y.a.toLowerCase() &&
    x.b.toLowerCase() === y.b.toLowerCase() &&
    x.depositA === y.depositA &&
    x.depositB === y.depositB &&
    x.nonceA === y.nonceA &&
    x.sentA === y.sentA &&
    x.nonceB === y.nonceB &&
    x.sentB === y.sentB
  );
}
