/** What the system tunnel drivers share: the namespace-aware command runner and its errors. */
export type { SystemTunnelErrorCode } from "./errors.ts";
export { isSystemTunnelError, SystemTunnelError } from "./errors.ts";
export type { RunCommand, RunOptions, RunResult } from "./run-command.ts";
export { createRunner, redactKeys } from "./run-command.ts";
