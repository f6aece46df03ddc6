/** Parsing of the SOCKS5 handshake (RFC 1928) with username/password auth (RFC 1929). */

/** Result of parsing one handshake step from the start of a buffer. */
export type Socks5Step<T> =
  | { readonly kind: "incomplete" }
  | { readonly kind: "bad"; readonly reason: string }
  | { readonly kind: "ok"; readonly value: T; readonly length: number };

/** Greeting: version 5 and the methods offered. */
export function parseGreeting(buf: Buffer): Socks5Step<{ userPass: boolean }> {
  if (buf.length < 2) return { kind: "incomplete" };
  if (buf[0] !== 5) return { kind: "bad", reason: "not SOCKS5" };
  const n = buf[1]!;
  if (buf.length < 2 + n) return { kind: "incomplete" };
  const methods = buf.subarray(2, 2 + n);
  return { kind: "ok", value: { userPass: methods.includes(2) }, length: 2 + n };
}

/** Username/password sub-negotiation. */
export function parseUserPass(buf: Buffer): Socks5Step<{ username: string; password: string }> {
  if (buf.length < 2) return { kind: "incomplete" };
  if (buf[0] !== 1) return { kind: "bad", reason: "bad auth version" };
  const ulen = buf[1]!;
  if (buf.length < 3 + ulen) return { kind: "incomplete" };
  const plen = buf[2 + ulen]!;
  if (buf.length < 3 + ulen + plen) return { kind: "incomplete" };
  return {
    kind: "ok",
    value: {
      username: buf.subarray(2, 2 + ulen).toString("utf8"),
      password: buf.subarray(3 + ulen, 3 + ulen + plen).toString("utf8"),
    },
    length: 3 + ulen + plen,
  };
}

/** Reply codes of RFC 1928 §6 that the proxy uses. */
export const SocksReply = {
  SUCCEEDED: 0,
  GENERAL_FAILURE: 1,
  NOT_ALLOWED: 2,
  HOST_UNREACHABLE: 4,
  REFUSED: 5,
  COMMAND_NOT_SUPPORTED: 7,
  ADDRESS_NOT_SUPPORTED: 8,
} as const;

/** A CONNECT request (other commands are reported as `command`). */
export function parseRequest(
  buf: Buffer,
): Socks5Step<{ command: number; host: string; port: number } | { unsupportedAddress: true }> {
  if (buf.length < 5) return { kind: "incomplete" };
  if (buf[0] !== 5) return { kind: "bad", reason: "not SOCKS5" };
  const command = buf[1]!;
  const atyp = buf[3]!;
  let host: string;
  let at: number;
  if (atyp === 1) {
    if (buf.length < 10) return { kind: "incomplete" };
    host = Array.from(buf.subarray(4, 8)).join(".");
    at = 8;
  } else if (atyp === 3) {
    const len = buf[4]!;
    if (buf.length < 5 + len + 2) return { kind: "incomplete" };
    host = buf.subarray(5, 5 + len).toString("latin1");
    at = 5 + len;
  } else if (atyp === 4) {
    if (buf.length < 22) return { kind: "incomplete" };
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(4 + i).toString(16));
    host = parts.join(":");
    at = 20;
  } else {
    return { kind: "ok", value: { unsupportedAddress: true }, length: buf.length };
  }
  return { kind: "ok", value: { command, host, port: buf.readUInt16BE(at) }, length: at + 2 };
}

/** A reply with an all-zero IPv4 bound address. */
export function reply(code: number): Buffer {
  return Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
}
