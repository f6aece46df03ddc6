/**
 * Bringing a WireGuard interface up and down: kernel WireGuard (`ip link add … type wireguard`)
 * where the kernel has it, `wireguard-go` where it does not. Shared by the provider driver and
 * the requester's own interface.
 */
import { isSystemTunnelError, SystemTunnelError } from "../system/errors.ts";
import type { RunCommand } from "../system/run-command.ts";

/** Which WireGuard to use: `auto` tries the kernel first. */
export type WireGuardImplementation = "auto" | "kernel" | "userspace";

/** True when the interface exists in the runner's namespace. */
export async function interfaceExists(run: RunCommand, name: string): Promise<boolean> {
  try {
    await run(["ip", "link", "show", "dev", name]);
    return true;
  } catch (err) {
    if (isSystemTunnelError(err, "COMMAND_FAILED")) return false;
    throw err;
  }
}

/**
 * Creates the WireGuard interface `name` (down, no address).
 * @returns which implementation made it
 * @throws SystemTunnelError UNSUPPORTED when neither works, COMMAND_MISSING, COMMAND_FAILED
 */
export async function createWireGuardInterface(
  run: RunCommand,
  name: string,
  implementation: WireGuardImplementation,
): Promise<"kernel" | "userspace"> {
  if (implementation !== "userspace") {
    try {
      await run(["ip", "link", "add", "dev", name, "type", "wireguard"]);
      return "kernel";
    } catch (err) {
      if (implementation === "kernel" || !isSystemTunnelError(err, "COMMAND_FAILED")) throw err;
    }
  }
  // wireguard-go daemonizes: the device outlives this process (as a kernel device would) and
  // goes away with `ip link del`. It opens its UAPI socket a moment after the parent returns.
  try {
    await run(["wireguard-go", name], { timeoutMs: 10_000 });
  } catch (err) {
    if (isSystemTunnelError(err, "COMMAND_MISSING")) {
      throw new SystemTunnelError(
        "UNSUPPORTED",
        "no WireGuard: the kernel has no module and wireguard-go is not installed",
        { interface: name },
        err,
      );
    }
    throw err;
  }
  for (let i = 0; ; i++) {
    try {
      await run(["wg", "show", name, "listen-port"]);
      return "userspace";
    } catch (err) {
      if (i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Deletes the interface (a wireguard-go daemon exits with it); absent is fine. */
export async function deleteInterface(run: RunCommand, name: string): Promise<void> {
  if (await interfaceExists(run, name)) await run(["ip", "link", "del", "dev", name]);
}
