/**
 * Channel operations on chain that both a running node and a one-shot CLI command carry out,
 * through the settlement interface: find an open channel with a partner, close with the latest
 * proof.
 */
import {
  type Address,
  type ChannelId,
  type ChannelRef,
  type ErrorDetails,
  readChannelHistory,
  type SettlementBackend,
  type SignedBalanceProof,
  TollwayError,
} from "../../channels/index.ts";

/** What a channel operation can fail with besides a `ChainError`. */
export type ChannelActionErrorCode = "NOT_FOUND" | "NOT_OPEN";

/** A failure of a channel operation; `code` says which. */
export class ChannelActionError extends TollwayError<ChannelActionErrorCode> {
  /**
   * @param code - NOT_FOUND (no such channel) or NOT_OPEN (closing or settled)
   * @param message - short human-readable message
   * @param details - the channel and what was found
   */
  constructor(code: ChannelActionErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, { details });
    this.name = "ChannelActionError";
  }
}

/** An open channel that `me` opened to `partner`, with its reference and deposits. */
export interface OpenChannelFound {
  readonly channelId: ChannelId;
  readonly ref: ChannelRef;
  readonly depositA: bigint;
  readonly depositB: bigint;
}

/**
 * The open channels `me` opened to `partner` (as A), newest first, read from the settlement
 * feed since `fromBlock`.
 */
export async function openChannelsTo(
  settlement: SettlementBackend,
  me: Address,
  partner: Address,
  fromBlock: number,
): Promise<OpenChannelFound[]> {
  const history = await readChannelHistory(settlement, me, fromBlock);
  const found: OpenChannelFound[] = [];
  // The history keeps channels in the order the feed opened them: newest last.
  for (const ch of [...history.channels.values()].reverse()) {
    if (ch.status !== "open" || ch.weAreB || ch.b.toLowerCase() !== partner.toLowerCase()) continue;
    const view = await settlement.channel(ch.channelId);
    if (view.status !== "open") continue;
    found.push({
      channelId: ch.channelId,
      ref: view.ref,
      depositA: view.depositA,
      depositB: view.depositB,
    });
  }
  return found;
}

/** What a unilateral close did. */
export interface CloseOutcome {
  readonly channelId: ChannelId;
  /** The partner's proof the close was submitted with (null: none received). */
  readonly withProof: { readonly nonce: bigint; readonly transferred: bigint } | null;
  /** ISO time after which the channel can be settled. */
  readonly finalizesAt: string;
  readonly tx: string;
}

/**
 * Closes `channelId` unilaterally with `partnerProof`, the newest proof received from the partner
 * (the partner can still answer with a newer proof of ours during the window; its watcher does).
 * @throws ChannelActionError NOT_FOUND, NOT_OPEN (already closing or settled); SettlementError
 *   when the chain refuses; the backend's errors when it cannot reach its chain.
 */
export async function closeWithProof(
  settlement: SettlementBackend,
  channelId: ChannelId,
  partnerProof: SignedBalanceProof | undefined,
): Promise<CloseOutcome> {
  const onChain = await settlement.channel(channelId);
  if (onChain.status === "closing") {
    throw new ChannelActionError(
      "NOT_OPEN",
      `channel ${channelId} is already closing until ${new Date(onChain.finalizesAt * 1000).toISOString()}; settle it after that with \`tollway channel settle\``,
    );
  }
  if (onChain.status !== "open")
    throw new ChannelActionError("NOT_FOUND", `no open channel ${channelId} on this contract`);
  const out = await settlement.send({
    type: "ChainSendClose",
    channelId,
    proof: partnerProof ?? null,
  });
  return {
    channelId,
    withProof: partnerProof
      ? { nonce: partnerProof.proof.nonce, transferred: partnerProof.proof.transferred }
      : null,
    finalizesAt: new Date(out.finalizesAt * 1000).toISOString(),
    tx: out.hash,
  };
}
