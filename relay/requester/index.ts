/**
 * The requester SDK: `connect` to a provider, `openSession` on a channel, listen for usage,
 * warnings and the close, `close`; open, top up, read and cooperatively close its channels through
 * the settlement interface. Also the raw authenticated connection it is built on.
 */
export type { CooperativeCloseTx, FundedChannel } from "./channel-funds.ts";
export { closeCooperatively, openChannel, readChannel, topUpChannel } from "./channel-funds.ts";
export type {
  OpenSessionOptions,
  Quote,
  QuoteOptions,
  RequesterOptions,
  SessionChannel,
  SessionEnd,
  SessionResumed,
  SessionResuming,
  SignedSettlement,
} from "./client.ts";
export { connect, RequesterClient, Session } from "./client.ts";
export type { WireConnection, WireConnectionOptions } from "./wire-connection.ts";
export { openWireConnection } from "./wire-connection.ts";
