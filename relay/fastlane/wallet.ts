/**
 * The requester's side of its fast-lane channels (shell): one channel per ISP, reused across
 * paths while its deposit lasts, and balance proofs signed through the channels' own state
 * machine. Channels are opened in memory with the deposit the chain would hold; opening them
 * on chain (`ChainClient.open`) is the engine's job.
 */
import { randomBytes } from "node:crypto";
import { createSigner, type ProofSigner } from "../../channels/crypto/signer.ts";
import type { SignedBalanceProof } from "../../channels/signed.ts";
import { balanceOf } from "../../channels/state/balances.ts";
import { type ChannelState, createChannel } from "../../channels/state/channel-state.ts";
import { transition } from "../../channels/state/transition.ts";
import {
  type Address,
  asChannelId,
  type ChannelDomain,
  type ChannelId,
} from "../../channels/types.ts";

/** A requester's channels with ISP nodes. */
export class LaneWallet {
  readonly address: Address;
  readonly #signer: ProofSigner;
  readonly #domain: ChannelDomain;
  readonly #channels = new Map<Address, ChannelState>();
  /** Channels opened (not reused), for reports and tests. */
  opened = 0;

  /**
   * @param key - the requester's wallet key
   * @param domain - chain id and PaymentChannels address
   */
  constructor(key: Uint8Array, domain: ChannelDomain) {
    this.#signer = createSigner(key);
    this.address = this.#signer.address;
    this.#domain = domain;
  }

  /**
   * The channel with `payee`: reused when it can still pay `need`, else a new one holding
   * `deposit`.
   * @returns the channel id, whether it was reused, and the deposit of a new one
   */
  ensure(
    payee: Address,
    need: bigint,
    deposit: bigint,
  ): { channelId: ChannelId; reused: boolean; depositA: bigint } {
    const have = this.#channels.get(payee);
    if (have !== undefined && balanceOf(have, "A") >= need) {
      return { channelId: have.params.channelId, reused: true, depositA: have.depositA };
    }
    const channelId = asChannelId(`0x${randomBytes(32).toString("hex")}`);
    let s = createChannel({
      channelId,
      domain: this.#domain,
      participantA: this.address,
      participantB: payee,
      self: "A",
      settleTimeout: 600n,
    });
    s = transition(
      s,
      { type: "ChainChannelOpened", channelId, depositA: deposit },
      this.#ctx(),
    ).state;
    this.#channels.set(payee, s);
    this.opened++;
    return { channelId, reused: false, depositA: deposit };
  }

  /**
   * Signs a proof paying `amount` more to `payee`.
   * @throws Error with the channel layer's code when the channel cannot pay it
   */
  pay(payee: Address, amount: bigint): SignedBalanceProof {
    const s = this.#channels.get(payee);
    if (s === undefined) throw new Error("no channel with this payee");
    const r = transition(s, { type: "ActionPay", amount }, this.#ctx());
    const sent = r.effects.find((e) => e.type === "SendBalanceProof");
    if (sent === undefined || sent.type !== "SendBalanceProof") {
      const why = r.effects.find((e) => e.type === "NotifyActionRejected");
      throw new Error(
        `payment refused: ${why !== undefined && "code" in why ? String(why.code) : "?"}`,
      );
    }
    this.#channels.set(payee, r.state);
    return sent.signed;
  }

  #ctx() {
    return { now: BigInt(Math.floor(Date.now() / 1000)), blockNumber: 0n, signer: this.#signer };
  }
}
