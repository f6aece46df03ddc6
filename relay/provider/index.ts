/**
 * The provider side of the relay: the node (node.ts, wiring its connections, channel loader,
 * session runner, proof pipeline and cooperative close), the cache in front of the settlement
 * backend that OPEN's channel references are resolved through, the socket limits it admits
 * connections under, the per-connection rate limit, and session admission (BUSY past the node's
 * measured headroom).
 */
export type { AdmissionLimits, AdmissionStats } from "./admission.ts";
export { DEFAULT_ADMISSION, retryAfterOf } from "./admission.ts";
export type { ConnectionLimits } from "./connection.ts";
export type { SocketLimits } from "./connection-guard.ts";
export { DEFAULT_SOCKET_LIMITS } from "./connection-guard.ts";
export type {
  CachedDirectory,
  ChannelResolver,
  DirectoryCacheLimits,
} from "./directory-cache.ts";
export { cachedDirectory, DEFAULT_DIRECTORY_CACHE_LIMITS } from "./directory-cache.ts";
export type { ProviderNode, ProviderNodeOptions, ProviderStats } from "./node.ts";
export { createProviderNode } from "./node.ts";
export type { PipelineStats, ProofPipelineLimits } from "./proof-pipeline.ts";
export { DEFAULT_PIPELINE_LIMITS, PIPELINE_GUARDS_OFF } from "./proof-pipeline.ts";
export type { RateLimit } from "./rate-limiter.ts";
export { TokenBucket } from "./rate-limiter.ts";
export type { PricePolicy, SessionClosedEvent } from "./session-runner.ts";
