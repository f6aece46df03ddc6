/** Minimal HTTP CONNECT and SOCKS5 clients for the proxy tests, counting their tunnel bytes. */
import { connect, type Socket } from "node:net";
import type { TunnelConfig } from "../../relay/tunnel/driver.ts";

/** Own counters of the bytes that crossed tunnels (after the handshake), like a requester app. */
export const counters = { bytes: 0 };

function readUntil(
  sock: Socket,
  test: (b: Buffer) => number,
): Promise<{ head: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const n = test(buf);
      if (n >= 0) {
        sock.off("data", onData);
        sock.off("close", onClose);
        sock.pause();
        resolve({ head: buf.subarray(0, n), rest: buf.subarray(n) });
      }
    };
    const onClose = () => reject(new Error(`closed during handshake: ${buf.toString("latin1")}`));
    sock.on("data", onData);
    sock.once("close", onClose);
    sock.once("error", reject);
  });
}

/** Opens a tunnel through the proxy with HTTP CONNECT; resolves with the socket or the status. */
export async function httpConnect(cfg: TunnelConfig, port: number): Promise<Socket | number> {
  const sock = connect(Number(cfg.port), String(cfg.host));
  sock.on("error", () => undefined);
  const auth = Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64");
  sock.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
  const { head } = await readUntil(sock, (b) => {
    const i = b.indexOf("\r\n\r\n");
    return i < 0 ? -1 : i + 4;
  });
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head.toString("latin1"))?.[1]);
  if (status !== 200) {
    sock.destroy();
    return status;
  }
  return sock;
}

/** Opens a tunnel with SOCKS5 (username/password); resolves with the socket or the reply code. */
export async function socks5Connect(cfg: TunnelConfig, port: number): Promise<Socket | number> {
  const sock = connect(Number(cfg.port), String(cfg.host));
  sock.on("error", () => undefined);
  const u = Buffer.from(String(cfg.username));
  const pw = Buffer.from(String(cfg.password));
  sock.write(Buffer.from([5, 1, 2]));
  sock.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([pw.length]), pw]));
  const req = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);
  sock.write(req);
  const { head } = await readUntil(sock, (b) =>
    b.length >= 2 + 2 + 10 ? 14 : b.length >= 4 && b[3] === 1 ? -1 : -1,
  );
  if (head[1] !== 2 || head[3] !== 0 || head[5] !== 0) {
    sock.destroy();
    return head[3] !== 0 ? -1 : head[5]!;
  }
  return sock;
}

/** Sends a GET through an open tunnel and reads the whole response (counting bytes). */
export function get(sock: Socket, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const req = `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    counters.bytes += req.length;
    sock.on("data", (d: Buffer) => {
      counters.bytes += d.length;
      chunks.push(d);
    });
    sock.once("close", () => resolve(Buffer.concat(chunks)));
    sock.once("error", reject);
    sock.resume();
    sock.write(req);
  });
}

/** What a proxy answered to one tunnel request. */
export interface ProxyAnswer {
  /** HTTP status, or the SOCKS5 reply code (-1: the handshake did not get that far). */
  readonly code: number;
  /** The `X-Tollway-Error` header of an HTTP answer. */
  readonly error: string | null;
  /** The open tunnel when the request succeeded, else null. */
  readonly socket: Socket | null;
  /** Tunnel bytes that came in with the answer. */
  readonly rest: Buffer;
}

/** Sends `CONNECT <target>` with the tunnel's credentials and reads the answer. */
export async function connectTarget(cfg: TunnelConfig, target: string): Promise<ProxyAnswer> {
  const sock = connect(Number(cfg.port), String(cfg.host));
  sock.on("error", () => undefined);
  const auth = Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64");
  sock.write(`CONNECT ${target} HTTP/1.1\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
  const { head, rest } = await readUntil(sock, (b) => {
    const i = b.indexOf("\r\n\r\n");
    return i < 0 ? -1 : i + 4;
  });
  const text = head.toString("latin1");
  const code = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
  const error = /\r\nX-Tollway-Error: ([A-Z_]+)\r\n/i.exec(text)?.[1] ?? null;
  if (code !== 200) sock.destroy();
  return { code, error, socket: code === 200 ? sock : null, rest };
}

/** SOCKS5 address field: type 1 (IPv4), 3 (name) or 4 (IPv6) and its bytes. */
export function socksAddress(type: 1 | 3 | 4, host: string | Buffer): Buffer {
  if (Buffer.isBuffer(host)) return Buffer.concat([Buffer.from([type]), host]);
  if (type === 1) return Buffer.from([1, ...host.split(".").map(Number)]);
  if (type === 3) {
    const name = Buffer.from(host, "latin1");
    return Buffer.concat([Buffer.from([3, name.length]), name]);
  }
  const groups = expandIPv6(host);
  const bytes = Buffer.alloc(17);
  bytes[0] = 4;
  for (const [i, g] of groups.entries()) bytes.writeUInt16BE(g, 1 + 2 * i);
  return bytes;
}

function expandIPv6(host: string): number[] {
  const [head, tail] = host.split("::") as [string, string | undefined];
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const a = parse(head);
  const b = tail === undefined ? [] : parse(tail);
  return [...a, ...new Array(8 - a.length - b.length).fill(0), ...b];
}

/** A SOCKS5 CONNECT (username/password) to `address` (see `socksAddress`) and `port`. */
export async function socksTarget(
  cfg: TunnelConfig,
  address: Buffer,
  port: number,
): Promise<ProxyAnswer> {
  const sock = connect(Number(cfg.port), String(cfg.host));
  sock.on("error", () => undefined);
  const u = Buffer.from(String(cfg.username));
  const pw = Buffer.from(String(cfg.password));
  const portBytes = Buffer.from([port >> 8, port & 0xff]);
  sock.write(
    Buffer.concat([
      Buffer.from([5, 1, 2]),
      Buffer.from([1, u.length]),
      u,
      Buffer.from([pw.length]),
      pw,
      Buffer.from([5, 1, 0]),
      address,
      portBytes,
    ]),
  );
  const got = await readUntil(sock, (b) => (b.length >= 14 ? 14 : -1)).catch(() => null);
  const head = got?.head;
  const rest = got?.rest ?? Buffer.alloc(0);
  if (head === undefined || head[1] !== 2 || head[3] !== 0) {
    sock.destroy();
    return { code: -1, error: null, socket: null, rest };
  }
  const code = head[5]!;
  if (code !== 0) sock.destroy();
  return { code, error: null, socket: code === 0 ? sock : null, rest };
}
