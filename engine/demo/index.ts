/** The demo: every part of tollway on one machine with no setup. */
export {
  fastlaneJson,
  fastlaneTable,
  liveLine,
  statusLine,
  summaryJson,
  summaryTable,
} from "./display.ts";
export type { FastlaneHopSummary, FastlaneOptions, FastlaneSummary } from "./fastlane-scenario.ts";
export { runFastlaneDemo } from "./fastlane-scenario.ts";
export type { DemoNetSupport, DemoTool } from "./namespaces.ts";
export { DemoUnsupportedError, demoNetSupport } from "./namespaces.ts";
export type { DemoOptions, DemoProgress, DemoSummary, DemoTransaction } from "./run-demo.ts";
export { runDemo } from "./run-demo.ts";
