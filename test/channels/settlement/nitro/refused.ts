/** A refusal on chain, told by the kind of revert, never by the reason's text. */
import { expect } from "vitest";
import { revertData } from "../../../helpers/revert.ts";

/** What a refusal looks like on chain: `Error(string)` from a require, or a `Panic(uint256)`. */
export type RevertKind =
  | { readonly kind: "error" }
  | { readonly kind: "panic"; readonly code: number };

const ERROR_SELECTOR = "0x08c379a0";
const PANIC_SELECTOR = "0x4e487b71";

/**
 * Awaits `action` and checks it reverted with a require (`Error(string)`) or the given panic,
 * never matching the reason's text.
 */
export async function expectRefused(action: Promise<unknown>, expected: RevertKind) {
  let caught: unknown;
  try {
    const tx = (await action) as { wait?: () => Promise<unknown> };
    if (tx && typeof tx.wait === "function") await tx.wait();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a revert").toBeDefined();
  const data = revertData(caught);
  if (expected.kind === "error") expect(data?.slice(0, 10)).toBe(ERROR_SELECTOR);
  else expect(data).toBe(`${PANIC_SELECTOR}${expected.code.toString(16).padStart(64, "0")}`);
}
