/**
 * The requester SDK: `connect` to a provider, `openSession` on a channel, listen for usage,
 * warnings and the close, `close`. Also the raw authenticated connection it is built on.
 */
export type {
  ChannelRef,
  OpenSessionOptions,
  Quote,
  QuoteOptions,
  RequesterOptions,
  SessionEnd,
  SessionResumed,
  SessionResuming,
  SignedSettlement,
} from "./client.ts";
export { connect, RequesterClient, Session } from "./client.ts";
export type { WireConnection, WireConnectionOptions } from "./wire-connection.ts";
export { openWireConnection } from "./wire-connection.ts";
