/** Parsing of an HTTP CONNECT request head (RFC 9110 §9.3.6) with Basic proxy credentials. */

/** Longest request head accepted. */
export const MAX_HEAD_BYTES = 8192;

/** A parsed CONNECT request, or why it cannot be served. */
export type ConnectHead =
  | { readonly kind: "incomplete" }
  | { readonly kind: "bad"; readonly status: 400 | 405 | 431; readonly reason: string }
  | {
      readonly kind: "connect";
      readonly host: string;
      readonly port: number;
      /** null when no (Basic) Proxy-Authorization was sent. */
      readonly username: string | null;
      readonly password: string | null;
      /** Bytes of the buffer after the head (already tunnel data). */
      readonly headLength: number;
    };

/** Parses the head at the start of `buf`. */
export function parseConnectHead(buf: Buffer): ConnectHead {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) {
    return buf.length > MAX_HEAD_BYTES
      ? { kind: "bad", status: 431, reason: "request head too large" }
      : { kind: "incomplete" };
  }
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? "");
  if (m === null) return { kind: "bad", status: 400, reason: "malformed request line" };
  if (m[1] !== "CONNECT") return { kind: "bad", status: 405, reason: "only CONNECT is served" };
  const target = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(m[2]!);
  if (target === null) return { kind: "bad", status: 400, reason: "target is host:port" };
  const port = Number(target[2]);
  if (port < 1 || port > 65535) return { kind: "bad", status: 400, reason: "bad port" };
  let username: string | null = null;
  let password: string | null = null;
  for (const line of lines.slice(1)) {
    const h = /^proxy-authorization:\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(line);
    if (h === null) continue;
    const decoded = Buffer.from(h[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  const host = target[1]!.replace(/^\[|\]$/g, "");
  return { kind: "connect", host, port, username, password, headLength: end + 4 };
}
