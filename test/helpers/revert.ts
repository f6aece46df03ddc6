/** Asserts that a contract call reverts with a given custom error, by name and arguments. */
import type { Interface } from "ethers";
import { expect } from "vitest";

/** The revert data an ethers error carries, however deep in its causes. */
export function revertData(err: unknown): string | undefined {
  let e = err as Record<string, unknown> | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof e.data === "string" && e.data.startsWith("0x")) return e.data;
    e = (e.error ?? e.info ?? e.cause) as Record<string, unknown> | undefined;
  }
  return undefined;
}

/**
 * Awaits `action` and checks it reverted with `errorName` from `iface`; returns the decoded args.
 */
export async function expectRevert(
  action: Promise<unknown>,
  iface: Interface,
  errorName: string,
): Promise<readonly unknown[]> {
  let caught: unknown;
  try {
    const tx = (await action) as { wait?: () => Promise<unknown> };
    if (tx && typeof tx.wait === "function") await tx.wait();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a revert with ${errorName}`).toBeDefined();
  const data = revertData(caught);
  expect(data, `revert carried no data: ${String(caught)}`).toBeDefined();
  const parsed = iface.parseError(data!);
  expect(parsed?.name).toBe(errorName);
  return parsed!.args.toArray();
}
