/**
 * The direct backend: PaymentChannels.sol through the chain client. It decodes the contract's
 * logs into the settlement feed, carries out the effects (finding a channel's participants from
 * its reference, its opening log or what it has seen), rebuilds a closing channel's committed
 * state from its events, and turns the contract's reverts into `SettlementError` codes.
 */
import type { Interface } from "ethers";
import type { ChainClient } from "../../chain/client.ts";
import { isChainError } from "../../chain/errors.ts";
import type { ChannelParticipants } from "../../chain/types.ts";
import type { Address, ChannelDomain, ChannelId, CommittedState } from "../../types.ts";
import type {
  ChainNow,
  ChannelView,
  OpenChannelView,
  OpenedChannelTx,
  ResolvedChannel,
  SendOutcomes,
  SettlementBackend,
} from "../backend.ts";
import type { ChannelRef } from "../channel-ref.ts";
import { committedAtClose, roleOf, withProofUpdate } from "../committed.ts";
import type { SettlementEffect } from "../effects.ts";
import { SettlementError, type SettlementErrorCode, type SettlementResult } from "../errors.ts";
import type { ChainEvent } from "../events.ts";
import { channelIdOf, decodeChannelRef, encodeChannelRef } from "./channel-ref.ts";
import { decodeChannelLog } from "./decode.ts";

/** Options of {@link paymentChannelsSettlement}. */
export interface PaymentChannelsOptions {
  /** Where to look for channel openings (the deployment's block; default 0). */
  readonly fromBlock?: number;
  /** Most blocks per getLogs request (default 2,000). */
  readonly maxBlockRange?: number;
}

/** The contract's custom errors, by the refusal they are. */
const REVERTS: Readonly<Record<string, SettlementErrorCode>> = {
  ChannelNotOpen: "CHANNEL_NOT_OPEN",
  ChannelNotClosing: "CHANNEL_NOT_CLOSING",
  NotParticipant: "NOT_PARTICIPANT",
  InvalidSignature: "INVALID_SIGNATURE",
  StaleProof: "STALE_PROOF",
  ClosingStateMismatch: "CLOSING_STATE_MISMATCH",
  SettleWindowRunning: "WINDOW_RUNNING",
  SettleWindowOver: "WINDOW_OVER",
  PayoutsMismatch: "PAYOUTS_MISMATCH",
  ChannelExists: "INVALID_ARGUMENT",
  CloseInOpeningBlock: "INVALID_ARGUMENT",
  InvalidPartner: "INVALID_ARGUMENT",
  SettleWindowOutOfBounds: "INVALID_ARGUMENT",
  DepositTooLarge: "INVALID_ARGUMENT",
  EmptyProofTransfers: "INVALID_ARGUMENT",
  ERC20InsufficientBalance: "INSUFFICIENT_FUNDS",
  ERC20InsufficientAllowance: "INSUFFICIENT_FUNDS",
};

/**
 * The settlement backend over a connected PaymentChannels client.
 * @example
 * const settlement = paymentChannelsSettlement(await connectChain({ signer, channels }), { fromBlock });
 * for await (const event of settlement.events(cursor, (await settlement.now()).block)) apply(event);
 */
export function paymentChannelsSettlement(
  chain: ChainClient,
  opts: PaymentChannelsOptions = {},
): PaymentChannelsSettlement {
  return new PaymentChannelsSettlement(chain, opts);
}

/** See {@link paymentChannelsSettlement}. */
export class PaymentChannelsSettlement implements SettlementBackend {
  readonly chain: ChainClient;
  readonly #iface: Interface;
  readonly #fromBlock: number;
  readonly #range: number;
  /** Participants of the channels seen (opened, resolved, in the feed): no log search for them. */
  readonly #participants = new Map<ChannelId, ChannelParticipants>();

  constructor(chain: ChainClient, opts: PaymentChannelsOptions = {}) {
    this.chain = chain;
    this.#iface = chain.contract.interface;
    this.#fromBlock = opts.fromBlock ?? 0;
    this.#range = opts.maxBlockRange ?? 2_000;
  }

  get domain(): ChannelDomain {
    return this.chain.domain;
  }

  account(): Promise<Address> {
    return this.chain.address();
  }

  balanceOf(owner: Address): Promise<bigint> {
    return this.chain.tokenBalance(owner);
  }

  /**
   * `send(ChainSendOpen)` with PaymentChannels' own choices: the salt the id derives from
   * (default: random) and whether a permit funds the open (default: when the allowance is short).
   * @throws SettlementError as `send` does
   */
  async open(args: {
    readonly partner: Address;
    readonly amount: bigint;
    readonly settleWindow: number;
    readonly salt?: bigint;
    readonly permit?: boolean;
  }): Promise<OpenedChannelTx & { readonly participants: ChannelParticipants }> {
    try {
      const opened = await this.chain.open({
        partner: args.partner,
        amount: args.amount,
        settleWindow: args.settleWindow,
        salt: args.salt,
        permit: args.permit,
      });
      this.#participants.set(opened.channelId, opened.participants);
      return {
        hash: opened.hash,
        blockNumber: opened.blockNumber,
        gasUsed: opened.gasUsed,
        channelId: opened.channelId,
        ref: encodeChannelRef(opened.participants),
        participants: opened.participants,
      };
    } catch (err) {
      throw refusal(err);
    }
  }

  async now(): Promise<ChainNow> {
    const t = await this.chain.chainTime();
    return { block: t.latestBlock, time: t.nextTimestamp };
  }

  async *events(after: number, to: number): AsyncIterable<ChainEvent> {
    for (let from = after + 1; from <= to; from += this.#range) {
      const end = Math.min(to, from + this.#range - 1);
      for (const log of await this.chain.channelLogs(from, end)) {
        const decoded = decodeChannelLog(this.#iface, log);
        if (!decoded) continue;
        if (decoded.participants) {
          this.#participants.set(decoded.event.channelId, decoded.participants);
        }
        yield decoded.event;
      }
      yield { type: "ChainBlock", block: end };
    }
  }

  async send<E extends SettlementEffect>(effect: E): Promise<SendOutcomes[E["type"]]> {
    try {
      return (await this.#send(effect)) as SendOutcomes[E["type"]];
    } catch (err) {
      throw refusal(err);
    }
  }

  async channel(channelId: ChannelId): Promise<ChannelView> {
    const info = await this.chain.readChannel(channelId);
    if (info.status === "none") return { status: "none", channelId };
    const p = lowercase(await this.#participantsOf(channelId));
    if (info.status === "open") return openView(channelId, p, info);
    return {
      status: "closing",
      channelId,
      ref: encodeChannelRef(p),
      a: p.a,
      b: p.b,
      closing: await this.#committedOf(channelId, p),
      finalizesAt: info.finalizesAt,
    };
  }

  async resolve(ref: ChannelRef): Promise<SettlementResult<ResolvedChannel>> {
    const p = decodeChannelRef(ref);
    if (p === undefined) {
      return { ok: false, code: "REF_INVALID", reason: "not a PaymentChannels reference" };
    }
    const channelId = channelIdOf(p);
    const info = await this.chain.readChannel(channelId);
    if (info.status !== "open") {
      return { ok: false, code: "CHANNEL_UNKNOWN", reason: `channel is ${info.status}` };
    }
    this.#participants.set(channelId, p);
    return { ok: true, value: openView(channelId, lowercase(p), info) };
  }

  async #send(e: SettlementEffect): Promise<SendOutcomes[SettlementEffect["type"]]> {
    const chain = this.chain;
    switch (e.type) {
      case "ChainSendOpen": {
        const { participants: _, ...opened } = await this.open(e);
        return opened;
      }
      case "ChainSendDeposit":
        return chain.topUp(e.channelId, e.participant === "B", e.amount);
      case "ChainSendCooperativeClose":
        return chain.cooperativeClose(
          await this.#participantsOf(e.channelId),
          e.settlement.payoutA,
          e.settlement.payoutB,
          e.signatureA,
          e.signatureB,
        );
      case "ChainSendClose":
        return chain.close(await this.#participantsOf(e.channelId), e.proof ?? undefined);
      case "ChainSendUpdateProof":
        return chain.updateProof(e.channelId, e.closing, e.signer === "B", e.signed);
      case "ChainSendSettle":
        return chain.settle(e.channelId, e.closing);
    }
  }

  /**
   * Who is in a channel and when it opened: known, or from its `ChannelOpened` log (one request
   * from `fromBlock`, as the contract indexes the id).
   * @throws SettlementError CHANNEL_UNKNOWN when no such channel was opened on this contract.
   */
  async #participantsOf(channelId: ChannelId): Promise<ChannelParticipants> {
    const known = this.#participants.get(channelId);
    if (known) return known;
    const topic = this.#iface.getEvent("ChannelOpened")!.topicHash;
    const head = await this.chain.blockNumber();
    for (const log of await this.chain.channelLogs(this.#fromBlock, head, [topic, channelId])) {
      const decoded = decodeChannelLog(this.#iface, log);
      if (decoded?.participants && decoded.event.channelId === channelId) {
        this.#participants.set(channelId, decoded.participants);
        return decoded.participants;
      }
    }
    throw new SettlementError("CHANNEL_UNKNOWN", `no channel ${channelId} on this contract`);
  }

  /** The committed state of a closing channel, rebuilt from its own events since it opened. */
  async #committedOf(channelId: ChannelId, p: ChannelParticipants): Promise<CommittedState> {
    const head = await this.chain.blockNumber();
    let deposits = { depositA: 0n, depositB: 0n };
    let closing: CommittedState | undefined;
    for (let from = Number(p.openBlock); from <= head; from += this.#range) {
      const end = Math.min(head, from + this.#range - 1);
      for (const log of await this.chain.channelLogs(from, end, [null, channelId])) {
        const e = decodeChannelLog(this.#iface, log)?.event;
        if (e?.type === "ChainChannelOpened") deposits = { ...deposits, depositA: e.depositA };
        else if (e?.type === "ChainDeposited") {
          deposits =
            e.participant === "A"
              ? { ...deposits, depositA: e.total }
              : { ...deposits, depositB: e.total };
        } else if (e?.type === "ChainChannelClosed") {
          const closedBy = roleOf(p, e.closer);
          if (closedBy) closing = committedAtClose(p, deposits, closedBy, e.proof);
        } else if (e?.type === "ChainProofUpdated" && closing) {
          closing = withProofUpdate(closing, e.signer, e.proof);
        }
      }
    }
    if (!closing)
      throw new SettlementError("CHANNEL_NOT_CLOSING", `no close of ${channelId} found`);
    return closing;
  }
}

/** An open channel's view from its participants and the contract's record. */
function openView(
  channelId: ChannelId,
  p: ChannelParticipants,
  info: { readonly depositA: bigint; readonly depositB: bigint; readonly settleWindow: number },
): OpenChannelView {
  return {
    status: "open",
    channelId,
    ref: encodeChannelRef(p),
    a: p.a,
    b: p.b,
    depositA: info.depositA,
    depositB: info.depositB,
    settleWindow: info.settleWindow,
  };
}

/** Participants with lowercase addresses, as every view has them. */
function lowercase(p: ChannelParticipants): ChannelParticipants {
  return { ...p, a: p.a.toLowerCase() as Address, b: p.b.toLowerCase() as Address };
}

/** A revert becomes the refusal it stands for; anything else (the RPC failing) goes on as it is. */
function refusal(err: unknown): unknown {
  if (
    isChainError(err, "INSUFFICIENT_TOKEN_BALANCE") ||
    isChainError(err, "INSUFFICIENT_ALLOWANCE")
  ) {
    return new SettlementError("INSUFFICIENT_FUNDS", err.shortMessage, { cause: err });
  }
  if (isChainError(err, "CONTRACT_REVERT") && err.details.errorName !== undefined) {
    const code = REVERTS[err.details.errorName];
    if (code) return new SettlementError(code, err.shortMessage, { cause: err });
  }
  return err;
}
