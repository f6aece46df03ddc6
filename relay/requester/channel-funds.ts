/**
 * The requester's channels on chain, through the settlement interface: open one to a provider,
 * top it up, read its deposits, and pay out a cooperative close that both sides signed over the
 * relay. What these return is the `channel` that `openSession` takes.
 */
import {
  type Address,
  type ChannelId,
  type SettlementBackend,
  type SettlementTx,
  within,
} from "../../channels/index.ts";
import { RelayError } from "../errors.ts";
import type { RequesterClient, SessionChannel } from "./client.ts";

/** A channel and the transaction that just funded it (its open, or a top-up). */
export interface FundedChannel extends SessionChannel {
  readonly tx: SettlementTx;
}

/** What a cooperative close paid out, and its transaction. */
export interface CooperativeCloseTx extends SettlementTx {
  readonly payoutA: bigint;
  readonly payoutB: bigint;
}

/**
 * Opens a channel from the backend's account (A) to `partner` (B) with a first deposit.
 * @param o.settleWindow - seconds a unilateral close waits (default 3,600)
 * @throws SettlementError INSUFFICIENT_FUNDS, INVALID_ARGUMENT (a window the deployment refuses)
 * @example
 * const channel = await openChannel(settlement, { partner: client.provider, amount: 10n ** 18n });
 * const session = await client.openSession({ channel, mode: "second", unitPrice, tunnel });
 */
export async function openChannel(
  settlement: SettlementBackend,
  o: { readonly partner: Address; readonly amount: bigint; readonly settleWindow?: number },
): Promise<FundedChannel> {
  const tx = await settlement.send({
    type: "ChainSendOpen",
    partner: o.partner,
    amount: o.amount,
    settleWindow: o.settleWindow ?? 3_600,
  });
  return { channelId: tx.channelId, ref: tx.ref, depositA: o.amount, depositB: 0n, tx };
}

/**
 * Adds `amount` to the requester's deposit (A), and reads the deposits back.
 * @throws SettlementError CHANNEL_NOT_OPEN, INSUFFICIENT_FUNDS; RelayError as `readChannel`
 */
export async function topUpChannel(
  settlement: SettlementBackend,
  channelId: ChannelId,
  amount: bigint,
): Promise<FundedChannel> {
  const tx = await settlement.send({
    type: "ChainSendDeposit",
    channelId,
    participant: "A",
    amount,
  });
  return { ...(await readChannel(settlement, channelId)), tx };
}

/**
 * An open channel with its reference and deposits as the chain holds them now.
 * @throws RelayError CHANNEL_UNKNOWN (never opened, or paid out), CHANNEL_CLOSED (closing)
 */
export async function readChannel(
  settlement: SettlementBackend,
  channelId: ChannelId,
): Promise<SessionChannel> {
  const view = await settlement.channel(channelId);
  if (view.status === "none") {
    throw new RelayError("CHANNEL_UNKNOWN", `no open channel ${channelId}`, { channelId });
  }
  if (view.status === "closing") {
    throw new RelayError("CHANNEL_CLOSED", `channel ${channelId} is closing`, { channelId });
  }
  return {
    channelId,
    ref: view.ref,
    depositA: view.depositA,
    depositB: view.depositB,
  };
}

/**
 * Settles a channel cooperatively: both sign over the relay (`client.settle`), then one
 * transaction pays both out.
 * @param o.countersignMs - how long to wait for the provider's signature (default: no limit); past
 *   it nothing is submitted, so a unilateral close can follow without racing this one
 * @throws RelayError TIMEOUT past `countersignMs`, the provider's refusal, CONNECTION_LOST;
 *   SettlementError when the chain refuses
 */
export async function closeCooperatively(
  client: RequesterClient,
  settlement: SettlementBackend,
  channelId: ChannelId,
  o: { readonly countersignMs?: number } = {},
): Promise<CooperativeCloseTx> {
  const signed = await bounded(client.settle(channelId), o.countersignMs);
  const tx = await settlement.send({
    type: "ChainSendCooperativeClose",
    channelId,
    settlement: signed.settlement,
    signatureA: signed.signatureA,
    signatureB: signed.signatureB,
  });
  return { ...tx, payoutA: signed.settlement.payoutA, payoutB: signed.settlement.payoutB };
}

/** `p`, or a TIMEOUT once `ms` pass (its late outcome dropped). */
function bounded<T>(p: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return p;
  return within(
    p,
    ms,
    () =>
      new RelayError("TIMEOUT", "timed out waiting for the provider's countersignature", { ms }),
  );
}
