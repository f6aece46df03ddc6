/** The metered HTTP CONNECT / SOCKS5 proxy tunnel driver. */
export type { ConnectHead } from "./http-connect.ts";
export { MAX_HEAD_BYTES, parseConnectHead } from "./http-connect.ts";
export type { ProxyDriverOptions } from "./proxy-driver.ts";
export { createProxyDriver } from "./proxy-driver.ts";
export { parseGreeting, parseRequest, parseUserPass, SocksReply } from "./socks5.ts";
