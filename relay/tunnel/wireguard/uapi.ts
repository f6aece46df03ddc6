/**
 * Reading a userspace WireGuard interface's peers over its UAPI socket
 * (`/var/run/wireguard/<if>.sock`): what `wg show <if> dump` prints, without spawning a process,
 * so that per-byte metering costs the tunnel next to nothing.
 */
import { connect } from "node:net";
import { SystemTunnelError } from "../system/errors.ts";
import type { WgPeerDump } from "./wg-dump.ts";

/** Where wireguard-go serves the UAPI of interface `name`. */
export function uapiSocketPath(name: string): string {
  return `/var/run/wireguard/${name}.sock`;
}

/**
 * Parses the answer to `get=1`: `key=value` lines, the interface first, then one block per peer
 * opened by `public_key` (hex). The interface's private key is skipped, never kept.
 * @throws SystemTunnelError UAPI_ERROR when the answer reports an error (`errno` other than 0, or
 *   none), UAPI_MALFORMED when it cannot be read
 */
export function parseUapiGet(text: string): WgPeerDump[] {
  const peers: WgPeerDump[] = [];
  let cur: { -readonly [K in keyof WgPeerDump]: WgPeerDump[K] } | null = null;
  let errno: number | null = null;
  const allowed: string[][] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) {
      throw new SystemTunnelError("UAPI_MALFORMED", "malformed UAPI answer", { line: "no key" });
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "public_key") {
      if (!/^[0-9a-f]{64}$/.test(value)) {
        throw new SystemTunnelError("UAPI_MALFORMED", "malformed UAPI public key", {
          line: "public_key",
        });
      }
      cur = {
        publicKey: Buffer.from(value, "hex").toString("base64"),
        endpoint: null,
        allowedIps: [],
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
      };
      allowed.push([]);
      peers.push(cur);
      continue;
    }
    if (key === "errno") {
      errno = Number(value);
      continue;
    }
    if (cur === null) continue; // interface fields, the private key among them
    if (key === "endpoint") cur.endpoint = value;
    else if (key === "allowed_ip") allowed.at(-1)!.push(value);
    else if (key === "last_handshake_time_sec") cur.latestHandshake = Number(value);
    else if (key === "rx_bytes") cur.rxBytes = Number(value);
    else if (key === "tx_bytes") cur.txBytes = Number(value);
  }
  if (errno !== 0) {
    throw new SystemTunnelError("UAPI_ERROR", `UAPI error ${errno ?? "missing"}`, { errno });
  }
  return peers.map((p, i) => ({ ...p, allowedIps: allowed[i]! }));
}

/** Asks the interface's UAPI socket for its peers. */
export function readUapiPeers(path: string, timeoutMs = 1_000): Promise<WgPeerDump[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let text = "";
    const timer = setTimeout(
      () => sock.destroy(new SystemTunnelError("UAPI_ERROR", "UAPI read timed out", { timeoutMs })),
      timeoutMs,
    );
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write("get=1\n\n"));
    sock.on("data", (d: string) => {
      text += d;
      // The answer ends with `errno=N` and an empty line.
      if (/(^|\n)errno=-?\d+\n\n$/.test(text)) sock.end();
    });
    sock.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseUapiGet(text));
      } catch (err) {
        reject(err);
      }
    });
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
