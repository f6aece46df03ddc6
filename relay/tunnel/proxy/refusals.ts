/**
 * How the proxy says no: one code per reason, as an HTTP status with an `X-Tollway-Error` header
 * for CONNECT clients and as an RFC 1928 reply code for SOCKS5 clients.
 */
import type { DestinationRefusalCode } from "./resolve-destination.ts";
import { reply, SocksReply } from "./socks5.ts";

/** Every reason the proxy refuses a CONNECT it has parsed and authenticated. */
export type ProxyRefusalCode =
  | DestinationRefusalCode
  | "PAYMENT_REQUIRED"
  | "TOO_MANY_CONNECTIONS"
  | "CONNECT_REFUSED"
  | "CONNECT_FAILED"
  | "CONNECT_TIMEOUT";

/** The response header that carries the refusal code. */
export const ERROR_HEADER = "X-Tollway-Error";

const HTTP_STATUS: Readonly<Record<ProxyRefusalCode, readonly [number, string]>> = {
  DESTINATION_INVALID: [400, "Bad Request"],
  DESTINATION_FORBIDDEN: [403, "Forbidden"],
  DESTINATION_UNRESOLVED: [502, "Bad Gateway"],
  LOOKUP_TIMEOUT: [504, "Gateway Timeout"],
  PAYMENT_REQUIRED: [402, "Payment Required"],
  TOO_MANY_CONNECTIONS: [429, "Too Many Requests"],
  CONNECT_REFUSED: [502, "Bad Gateway"],
  CONNECT_FAILED: [502, "Bad Gateway"],
  CONNECT_TIMEOUT: [504, "Gateway Timeout"],
};

const SOCKS_REPLY: Readonly<Record<ProxyRefusalCode, number>> = {
  DESTINATION_INVALID: SocksReply.NOT_ALLOWED,
  DESTINATION_FORBIDDEN: SocksReply.NOT_ALLOWED,
  DESTINATION_UNRESOLVED: SocksReply.HOST_UNREACHABLE,
  LOOKUP_TIMEOUT: SocksReply.HOST_UNREACHABLE,
  PAYMENT_REQUIRED: SocksReply.NOT_ALLOWED,
  TOO_MANY_CONNECTIONS: SocksReply.GENERAL_FAILURE,
  CONNECT_REFUSED: SocksReply.REFUSED,
  CONNECT_FAILED: SocksReply.HOST_UNREACHABLE,
  CONNECT_TIMEOUT: SocksReply.HOST_UNREACHABLE,
};

/** The HTTP status a refusal is answered with. */
export function httpStatusOf(code: ProxyRefusalCode): number {
  return HTTP_STATUS[code][0];
}

/** The whole HTTP response head refusing a CONNECT. */
export function httpRefusal(code: ProxyRefusalCode): string {
  const [status, text] = HTTP_STATUS[code];
  return `HTTP/1.1 ${status} ${text}\r\n${ERROR_HEADER}: ${code}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}

/** The SOCKS5 reply refusing a request. */
export function socksRefusal(code: ProxyRefusalCode): Buffer {
  return reply(SOCKS_REPLY[code]);
}
