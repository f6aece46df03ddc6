/**
 * Namespace test networks for the tunnel tests and bench: the demo's own network code
 * (`engine/demo/namespaces.ts`), plus `describeWhen`, which skips a suite with one printed line
 * where root, `ip netns` or a tool is missing.
 */
import { describe } from "vitest";
import {
  createDemoNet,
  type DemoNet,
  type DemoNetSupport,
  type DemoTool,
  demoNetSupport,
} from "../../engine/demo/namespaces.ts";

export type { LinkEnd } from "../../engine/demo/namespaces.ts";
export { cleanupStaleNamespaces } from "../../engine/demo/namespaces.ts";

/** A tool a test needs. */
export type NetnsTool = Exclude<DemoTool, "curl">;
/** `{ ok: true }`, or why the namespace tests cannot run here. */
export type NetnsSupport = DemoNetSupport;
/** A test network. */
export type TestNet = DemoNet;

/** Whether the namespace tests can run here, with the tools they need. */
export const netnsSupport: (tools: readonly NetnsTool[]) => Promise<NetnsSupport> = demoNetSupport;

/** Creates an empty test network after removing stale ones; `close()` removes it. */
export const createTestNet: () => Promise<TestNet> = createDemoNet;

/**
 * `describe` when the namespace tests can run here, else `describe.skip` after printing one line
 * that says why.
 */
export function describeWhen(support: NetnsSupport, what: string): typeof describe {
  if (support.ok) return describe;
  console.log(`skipping ${what}: ${support.reason}`);
  return describe.skip as typeof describe;
}
