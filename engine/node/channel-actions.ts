/**
 * Channel operations on chain that both a running node and a one-shot CLI command carry out: find
 * who is in a channel, find an open channel with a partner, close with the latest proof.
 */
import { EventLog } from "ethers";
import {
  type Address,
  type ChainClient,
  type ChannelId,
  type ChannelParticipants,
  type ErrorDetails,
  readChannelHistory,
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

/**
 * Who is in `channelId` and when it opened, from its `ChannelOpened` event.
 * @throws ChannelActionError NOT_FOUND when no such channel was opened on this contract.
 */
export async function participantsOf(
  chain: ChainClient,
  channelId: ChannelId,
  fromBlock: number,
): Promise<ChannelParticipants> {
  const logs = await chain.contract.queryFilter(
    chain.contract.filters.ChannelOpened!(channelId),
    fromBlock,
  );
  // ethers decodes the logs it can into EventLogs (with args); anything else stays a plain Log.
  const ev = logs.find((log): log is EventLog => log instanceof EventLog);
  if (!ev) throw new ChannelActionError("NOT_FOUND", `no channel ${channelId} on this contract`);
  return {
    a: ev.args[1] as Address,
    b: ev.args[2] as Address,
    salt: ev.args[3] as bigint,
    openBlock: ev.args[4] as bigint,
  };
}

/** An open channel that `me` opened to `partner`, with its deposits. */
export interface OpenChannelFound {
  readonly channelId: ChannelId;
  readonly participants: ChannelParticipants;
  readonly depositA: bigint;
  readonly depositB: bigint;
}

/**
 * The open channels `me` opened to `partner` (as A), newest first, read from the contract's
 * events since `fromBlock`.
 */
export async function openChannelsTo(
  chain: ChainClient,
  me: Address,
  partner: Address,
  fromBlock: number,
): Promise<OpenChannelFound[]> {
  const history = await readChannelHistory(chain, me, fromBlock);
  const found: OpenChannelFound[] = [];
  for (const ch of history.channels.values()) {
    if (ch.status !== "open" || ch.weAreB || ch.b.toLowerCase() !== partner.toLowerCase()) continue;
    found.push({
      channelId: ch.channelId,
      participants: await participantsOf(chain, ch.channelId, fromBlock),
      depositA: ch.depositA,
      depositB: ch.depositB,
    });
  }
  return found.sort((x, y) => Number(y.participants.openBlock - x.participants.openBlock));
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
 * @throws ChannelActionError NOT_FOUND, NOT_OPEN (already closing or settled); ChainError.
 */
export async function closeWithProof(
  chain: ChainClient,
  channelId: ChannelId,
  partnerProof: SignedBalanceProof | undefined,
  fromBlock: number,
): Promise<CloseOutcome> {
  const onChain = await chain.readChannel(channelId);
  if (onChain.status === "closing") {
    throw new ChannelActionError(
      "NOT_OPEN",
      `channel ${channelId} is already closing until ${new Date(onChain.finalizesAt * 1000).toISOString()}; settle it after that with \`tollway channel settle\``,
    );
  }
  if (onChain.status !== "open")
    throw new ChannelActionError("NOT_FOUND", `no open channel ${channelId} on this contract`);
  const participants = await participantsOf(chain, channelId, fromBlock);
  const out = await chain.close(participants, partnerProof);
  return {
    channelId,
    withProof: partnerProof
      ? { nonce: partnerProof.proof.nonce, transferred: partnerProof.proof.transferred }
      : null,
    finalizesAt: new Date(out.finalizesAt * 1000).toISOString(),
    tx: out.hash,
  };
}
