/**
 * The provider side of the relay: the node (WebSocket server, proof pipeline, sessions, tunnel
 * drivers), the channel directory it looks channels up in, and the per-connection rate limit.
 */
export type {
  ChannelDirectory,
  ChannelInfo,
  ChannelQuery,
  MemoryDirectory,
} from "./channel-directory.ts";
export { chainDirectory, channelIdOf, memoryDirectory } from "./channel-directory.ts";
export type {
  ConnectionLimits,
  PricePolicy,
  ProviderNode,
  ProviderNodeOptions,
  ProviderStats,
  SessionClosedEvent,
} from "./provider-node.ts";
export { createProviderNode } from "./provider-node.ts";
export type { RateLimit } from "./rate-limiter.ts";
export { TokenBucket } from "./rate-limiter.ts";
