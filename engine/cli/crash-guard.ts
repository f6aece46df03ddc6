/**
 * What the process does with an exception or a rejection nothing handled: a serving role (a node,
 * the market, the chain) logs it with its code and keeps serving, since one bad input from a peer
 * must not take every session down; a one-shot command logs it and exits with code 70.
 */
import { shortMessageOf } from "../../channels/index.ts";
import { errorCode } from "./errors.ts";
import type { Io } from "./io.ts";

let serving: string | undefined;

/** Marks the process as serving `role` from now on (set as a role command starts). */
export function markServing(role: string): void {
  serving = role;
}

/** The role being served, if any. */
export function servingRole(): string | undefined {
  return serving;
}

/** Exit code of a one-shot command that died of an unhandled error (sysexits' EX_SOFTWARE). */
export const UNHANDLED_EXIT_CODE = 70;

/**
 * Installs the `uncaughtException` and `unhandledRejection` handlers.
 * @param verbose - also print the stack
 * @param exit - how to end a one-shot command (tests pass their own)
 */
export function installCrashGuard(
  io: Io,
  verbose: boolean,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  const onError = (kind: string) => (err: unknown) => {
    const message = shortMessageOf(err);
    const role = serving;
    io.err(
      `tollway: ${kind} ${errorCode(err)}: ${message}${role ? ` (the ${role} keeps running)` : ""}\n`,
    );
    if (verbose && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    if (!role) exit(UNHANDLED_EXIT_CODE);
  };
  process.on("uncaughtException", onError("uncaught exception"));
  process.on("unhandledRejection", onError("unhandled rejection"));
}
