/** The demo: every part of tollway on one machine with no setup. */
export { liveLine, statusLine, summaryJson, summaryTable } from "./display.ts";
export type { DemoOptions, DemoProgress, DemoSummary, DemoTransaction } from "./run-demo.ts";
export { runDemo } from "./run-demo.ts";
