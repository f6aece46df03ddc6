/**
 * Parses `wg show <if> dump` (pure). The interface line carries the private key: it is read
 * past and never kept.
 */

/** One peer line of the dump. */
export interface WgPeerDump {
  readonly publicKey: string;
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  /** Unix seconds of the latest handshake; 0 when there has been none. */
  readonly latestHandshake: number;
  /** Bytes received from the peer. */
  readonly rxBytes: number;
  /** Bytes sent to the peer. */
  readonly txBytes: number;
}

/** The interface line, without its private key. */
export interface WgInterfaceDump {
  readonly publicKey: string;
  readonly listenPort: number;
}

/** A parsed dump. */
export interface WgDump {
  readonly iface: WgInterfaceDump | null;
  readonly peers: readonly WgPeerDump[];
}

function int(text: string | undefined): number {
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/**
 * Parses the output of `wg show <if> dump` for one interface (tab-separated; the first line is
 * the interface, the rest are peers). Unparseable lines are skipped.
 */
export function parseWgDump(text: string): WgDump {
  let iface: WgInterfaceDump | null = null;
  const peers: WgPeerDump[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split("\t");
    if (iface === null && f.length === 4) {
      // private-key public-key listen-port fwmark: the private key is dropped here.
      iface = { publicKey: f[1] ?? "", listenPort: int(f[2]) };
      continue;
    }
    if (f.length !== 8) continue;
    const allowed = f[3] ?? "(none)";
    peers.push({
      publicKey: f[0] ?? "",
      endpoint: f[2] === undefined || f[2] === "(none)" ? null : f[2],
      allowedIps: allowed === "(none)" ? [] : allowed.split(","),
      latestHandshake: int(f[4]),
      rxBytes: int(f[5]),
      txBytes: int(f[6]),
    });
  }
  return { iface, peers };
}
