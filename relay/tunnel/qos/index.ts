/** The `qos` fast-lane tunnel driver (tc HTB), its lane parameters and the pure tc plan. */
export type { LaneParams } from "./params.ts";
export { parseLaneParams } from "./params.ts";
export type {
  LaneStatus,
  LaneStatusEvent,
  QosDriver,
  QosDriverOptions,
} from "./qos-driver.ts";
export { createQosDriver } from "./qos-driver.ts";
export type { ClassStats, HtbLayout } from "./tc-plan.ts";
export {
  addLaneCommands,
  DEFAULT_CLASS,
  freeSlot,
  laneClassId,
  lanePref,
  parseClassStats,
  ROOT_CLASS,
  removeLaneCommands,
  setupCommands,
} from "./tc-plan.ts";
