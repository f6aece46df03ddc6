/**
 * An ISP's fast-lane node (shell): quotes lanes, accepts channels from requesters, activates a
 * lane on its `qos` driver, and keeps it up as a lease that every verified balance proof
 * extends (`lease.ts`); the driver removes the lane when the lease runs out. In process, with
 * the channels' own state machine and verifier; the relay's provider node takes this role once
 * a `qos` session is opened over the WebSocket (see the README).
 */
import { EventEmitter } from "node:events";
import { createSigner, type ProofSigner } from "../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import type { SignedBalanceProof } from "../../channels/signed.ts";
import { type ChannelState, createChannel } from "../../channels/state/channel-state.ts";
import { transition } from "../../channels/state/transition.ts";
import type { Address, ChannelDomain, ChannelId } from "../../channels/types.ts";
import type { LaneStatusEvent, QosDriver } from "../tunnel/qos/qos-driver.ts";
import { SystemTunnelError } from "../tunnel/system/errors.ts";
import { type LeaseTerms, leaseEnd } from "./lease.ts";
import type { LaneQuote, LaneRequest } from "./path.ts";

/** Options of `createIspNode`. */
export interface IspNodeOptions {
  /** The hop's name on the path. */
  readonly id: string;
  readonly driver: QosDriver;
  /** The ISP's wallet key (its channels' participant B). */
  readonly key: Uint8Array;
  readonly domain: ChannelDomain;
  readonly terms: LeaseTerms;
  /** The largest lane it sells, kbit/s. */
  readonly maxRateKbit: number;
  /** Milliseconds clock (default `Date.now`, the driver's default too). */
  readonly clock?: () => number;
}

/** A channel a requester opened with this ISP (from the chain, in production). */
export interface IspChannelRef {
  readonly channelId: ChannelId;
  readonly requester: Address;
  readonly depositA: bigint;
}

interface Lane {
  readonly channelId: ChannelId;
  readonly startedAt: number;
  /** The channel's transferred amount when the lane started: the lane is paid above it. */
  readonly base: bigint;
  paid: bigint;
}

/** What the node's payment check found wrong. */
export class PaymentRejected extends Error {
  readonly code: string;
  /**
   * @param code - the channel layer's code (NONCE_NOT_INCREASING, SIGNER_MISMATCH, …) or
   *   SESSION_UNKNOWN
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = "PaymentRejected";
    this.code = code;
  }
}

/** A running ISP node. Events: `status` (the driver's lane status changes). */
export class IspNode extends EventEmitter<{ status: [LaneStatusEvent] }> {
  readonly id: string;
  readonly address: Address;
  readonly #opts: IspNodeOptions;
  readonly #signer: ProofSigner;
  readonly #verifier = new ProofVerifier({ mode: "recover" });
  readonly #channels = new Map<ChannelId, ChannelState>();
  readonly #lanes = new Map<string, Lane>();
  readonly #clock: () => number;

  /** @param opts - see `IspNodeOptions` */
  constructor(opts: IspNodeOptions) {
    super();
    this.id = opts.id;
    this.#opts = opts;
    this.#signer = createSigner(opts.key);
    this.address = this.#signer.address;
    this.#clock = opts.clock ?? Date.now;
    opts.driver.on("status", (e) => {
      if (e.status === "unavailable") this.#lanes.delete(e.sessionId);
      this.emit("status", e);
    });
  }

  /**
   * Prices a lane.
   * @throws SystemTunnelError PARAMS_INVALID when the rate is more than it sells
   */
  quote(request: LaneRequest): LaneQuote {
    if (request.rateKbit > this.#opts.maxRateKbit) {
      throw new SystemTunnelError("PARAMS_INVALID", `at most ${this.#opts.maxRateKbit} kbit/s`);
    }
    return { hop: this.id, payee: this.address, rateKbit: request.rateKbit, ...this.#opts.terms };
  }

  /** The channel's state as the node holds it. */
  channel(channelId: ChannelId): ChannelState | undefined {
    return this.#channels.get(channelId);
  }

  /** Records a channel a requester opened (what the chain directory does for the relay). */
  acceptChannel(ref: IspChannelRef): void {
    if (this.#channels.has(ref.channelId)) return;
    const ctx = this.#ctx();
    let s = createChannel({
      channelId: ref.channelId,
      domain: this.#opts.domain,
      participantA: ref.requester,
      participantB: this.address,
      self: "B",
      settleTimeout: 600n,
    });
    s = transition(
      s,
      { type: "ChainChannelOpened", channelId: ref.channelId, depositA: ref.depositA },
      ctx,
    ).state;
    this.#channels.set(ref.channelId, s);
  }

  /**
   * Installs the lane and starts its lease (the credit limit covers the first seconds). Resolves
   * once tc has the class and filter in place.
   * @throws PaymentRejected SESSION_UNKNOWN for an unknown channel; the driver's errors
   */
  async activate(sessionId: string, channelId: ChannelId, request: LaneRequest): Promise<void> {
    const ch = this.#channels.get(channelId);
    if (ch === undefined) throw new PaymentRejected("SESSION_UNKNOWN", "unknown channel");
    await this.#opts.driver.activate({
      sessionId,
      kind: "qos",
      params: { ...request.flow, rateKbit: request.rateKbit },
    });
    const startedAt = this.#clock();
    const base = ch.received?.proof.transferred ?? 0n;
    this.#lanes.set(sessionId, { channelId, startedAt, base, paid: 0n });
    this.#opts.driver.setLease(sessionId, leaseEnd(startedAt, 0n, this.#opts.terms));
  }

  /**
   * Takes a balance proof for a lane: verified, applied to the channel, and the lease extended.
   * @returns what the lane has been paid so far
   * @throws PaymentRejected with the channel layer's code when the proof is refused
   */
  pay(sessionId: string, signed: SignedBalanceProof): bigint {
    const lane = this.#lanes.get(sessionId);
    if (lane === undefined) throw new PaymentRejected("SESSION_UNKNOWN", "no lane");
    const ch = this.#channels.get(lane.channelId);
    if (ch === undefined) throw new PaymentRejected("SESSION_UNKNOWN", "unknown channel");
    const d = this.#opts.domain;
    const check = this.#verifier.verifyBalanceProof(
      d,
      signed.proof,
      signed.signature,
      ch.params.participantA,
    );
    const r = transition(
      ch,
      { type: "ReceiveBalanceProof", signed, domain: d, check },
      this.#ctx(),
    );
    const bad = r.effects.find((e) => e.type === "InvalidReceivedBalanceProof");
    if (bad !== undefined && "code" in bad) {
      throw new PaymentRejected(String(bad.code), "balance proof refused");
    }
    this.#channels.set(lane.channelId, r.state);
    lane.paid = signed.proof.transferred - lane.base;
    this.#opts.driver.setLease(sessionId, leaseEnd(lane.startedAt, lane.paid, this.#opts.terms));
    return lane.paid;
  }

  /** Removes the lane now (idempotent). */
  teardown(sessionId: string): Promise<void> {
    return this.#opts.driver.deactivate(sessionId);
  }

  #ctx() {
    return {
      now: BigInt(Math.floor(this.#clock() / 1000)),
      blockNumber: 0n,
      signer: this.#signer,
    };
  }
}
