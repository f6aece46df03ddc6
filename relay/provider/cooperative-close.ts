/**
 * Cooperative close on the provider's side: the requester proposes payouts signed by it
 * (SETTLE_PROPOSE); once every proof in flight has landed, the channel core checks them against
 * the durable balances, the channel's session ends, the signed state is made durable, and only
 * then does the provider's signature go back (SETTLE_SIGN). The chain effects the core emits go
 * to the node's `chain` event, for the engine to carry out.
 */
import type {
  ChannelDomain,
  ChannelEffect,
  ChannelStore,
  ProofVerifier,
  TransitionContext,
} from "../../channels/index.ts";
import { transition } from "../../channels/index.ts";
import type { RelayErrorCode } from "../errors.ts";
import type { SettleProposeFrame } from "../wire/frames.ts";
import type { ChannelEntry, ChannelLoader } from "./channel-loader.ts";
import type { Connection, Peers } from "./connection.ts";

/** What a `CooperativeClose` needs. */
export interface CooperativeCloseOptions {
  readonly domain: ChannelDomain;
  readonly store: ChannelStore;
  /** Checks the requester's settlement signature. */
  readonly verifier: ProofVerifier;
  readonly channels: ChannelLoader;
  /** The proof pipeline: payments in flight land before payouts are frozen. */
  readonly proofs: { settled(): Promise<void> };
  readonly sessions: { closeOf(entry: ChannelEntry, code: RelayErrorCode, reason: string): void };
  readonly peers: Peers;
  /** A transition context (time, block, signer: the provider signs the settlement). */
  ctx(): TransitionContext;
  /** A chain effect (`ChainSendCooperativeClose`, …) to carry out. */
  chain(effect: ChannelEffect): void;
}

/** The provider's side of cooperative close. */
export class CooperativeClose {
  readonly #opts: CooperativeCloseOptions;

  constructor(opts: CooperativeCloseOptions) {
    this.#opts = opts;
  }

  /** SETTLE_PROPOSE: signs the payouts back when they match the durable balances. */
  async onSettlePropose(conn: Connection, frame: SettleProposeFrame): Promise<void> {
    const { domain, store, peers } = this.#opts;
    const entry = this.#opts.channels.get(frame.channelId);
    if (entry === undefined || entry.owner !== conn) {
      peers.error(conn, "CHANNEL_UNKNOWN", "no such channel on this connection", frame.channelId);
      return;
    }
    // Payments are frozen once we sign: let every proof in flight land first.
    await this.#opts.proofs.settled();
    await store.flush();
    const settlement = {
      channelId: frame.channelId,
      payoutA: frame.payoutA,
      payoutB: frame.payoutB,
    };
    const check = this.#opts.verifier.verifySettlement(
      domain,
      settlement,
      frame.signature,
      entry.state.params.participantA,
    );
    const before = entry.state;
    const { state, effects } = transition(
      before,
      {
        type: "ReceiveSettlementProposal",
        settlement,
        signature: frame.signature,
        domain,
        check,
      },
      this.#opts.ctx(),
    );
    for (const e of effects) {
      if (e.type === "InvalidReceivedSettlement" || e.type === "NotifyActionRejected") {
        peers.error(conn, e.code, e.reason, frame.channelId);
        return;
      }
    }
    this.#opts.sessions.closeOf(entry, "CLOSED_LOCALLY", "the channel is settling");
    entry.state = state;
    // Durable before we hand out our signature: after a crash we must know we signed.
    await store.persist(before, state);
    for (const e of effects) {
      if (e.type === "SendSettlementSignature") {
        peers.send(conn, {
          type: "SETTLE_SIGN",
          channelId: e.channelId,
          payoutA: e.settlement.payoutA,
          payoutB: e.settlement.payoutB,
          signature: e.signature,
        });
      } else if (e.type.startsWith("Chain")) {
        this.#opts.chain(e);
      }
    }
  }
}
