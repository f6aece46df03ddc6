/**
 * Fast lanes across a path of ISP nodes: the path core (pure), the ISP's fast-lane node (a relay
 * provider node selling `qos` lanes), the requester's connections and channels with the ISPs,
 * and the path runner (shells).
 */
export type { IspNodeOptions } from "./isp-node.ts";
export { createIspNode } from "./isp-node.ts";
export type { FastLaneRequesterOptions, IspAccount, IspSettlement } from "./lane-requester.ts";
export { FastLaneRequester } from "./lane-requester.ts";
export type {
  HopPhase,
  HopState,
  LaneQuote,
  LaneRequest,
  PathCloseCode,
  PathClosure,
  PathContext,
  PathEffect,
  PathInput,
  PathOptions,
  PathPhase,
  PathState,
} from "./path.ts";
export { createPath, pathTransition } from "./path.ts";
export type { FastLaneHop, PathEnd, RunningPath, RunPathOptions } from "./path-runner.ts";
export { PathClosedError, runPath } from "./path-runner.ts";
