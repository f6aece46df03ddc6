/** The metered HTTP CONNECT / SOCKS5 proxy tunnel driver. */
export type { DestinationRules } from "./destination-rules.ts";
export { parseDestinationRules, SPECIAL_IPV4, SPECIAL_IPV6 } from "./destination-rules.ts";
export type { ConnectHead } from "./http-connect.ts";
export { MAX_HEAD_BYTES, parseConnectHead } from "./http-connect.ts";
export type { ProxyDriverOptions } from "./proxy-driver.ts";
export { createProxyDriver } from "./proxy-driver.ts";
export type { ProxyRefusalCode } from "./refusals.ts";
export { ERROR_HEADER } from "./refusals.ts";
export type { Lookup, LookupAnswer } from "./resolve-destination.ts";
export { parseGreeting, parseRequest, parseUserPass, SocksReply } from "./socks5.ts";
