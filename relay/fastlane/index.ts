/**
 * Fast lanes across a path of ISP nodes: the lease arithmetic and the path core (pure), the ISP
 * node, the requester's lane wallet and the path runner (shells).
 */
export type { IspChannelRef, IspNodeOptions } from "./isp-node.ts";
export { IspNode, PaymentRejected } from "./isp-node.ts";
export type { LeaseTerms } from "./lease.ts";
export { coveredSeconds, leaseEnd, owedAt } from "./lease.ts";
export type {
  HopPhase,
  HopState,
  LaneQuote,
  LaneRequest,
  PathContext,
  PathEffect,
  PathInput,
  PathOptions,
  PathPhase,
  PathState,
} from "./path.ts";
export { createPath, pathTransition } from "./path.ts";
export type { FastLaneHop, PathEnd, RunningPath, RunPathOptions } from "./path-runner.ts";
export { localHop, runPath } from "./path-runner.ts";
export { LaneWallet } from "./wallet.ts";
