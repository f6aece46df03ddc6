/**
 * Fuzzing the real proxy driver at the byte level: CONNECT lines and SOCKS5 handshakes built from
 * random parts (huge hosts, bad ports, prototype keys, truncations) and plain random bytes, many
 * at once. The driver must answer or close every connection, never reach a destination the rules
 * refuse, and still serve an honest client afterwards. Names are answered by a fake resolver and
 * every address outside loopback is denied, so that no test traffic leaves the machine.
 */
import { connect, createServer, type Server } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TunnelConfig } from "../../../relay/tunnel/driver.ts";
import { createProxyDriver, type LookupAnswer } from "../../../relay/tunnel/proxy/index.ts";
import { connectTarget, socksAddress, socksTarget } from "../proxy-client.ts";

type Driver = Awaited<ReturnType<typeof createProxyDriver>>;

let site: Server;
let sitePort: number;
let siteConnections = 0;
let loose: Driver;
let strict: Driver;
let looseCfg: TunnelConfig;
let strictCfg: TunnelConfig;

/** A resolver that answers from a fixed table of special (and odd) answers, by the name's length. */
const FAKE_ANSWERS: readonly (readonly LookupAnswer[] | "fail")[] = [
  [{ address: "127.0.0.1", family: 4 }],
  [{ address: "::1", family: 6 }],
  [{ address: "::ffff:127.0.0.1", family: 6 }],
  [{ address: "169.254.169.254", family: 4 }],
  [
    { address: "127.0.0.1", family: 4 },
    { address: "10.0.0.1", family: 4 },
  ],
  [],
  [{ address: "__proto__", family: 4 }],
  "fail",
];
const fakeLookup = async (name: string): Promise<readonly LookupAnswer[]> => {
  const answer = FAKE_ANSWERS[name.length % FAKE_ANSWERS.length]!;
  if (answer === "fail") throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  return answer;
};

beforeAll(async () => {
  site = createServer((sock) => {
    siteConnections++;
    sock.on("error", () => undefined);
    sock.end("site\n");
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  const addr = site.address();
  sitePort = typeof addr === "object" && addr !== null ? addr.port : 0;
  const common = { lookup: fakeLookup, handshakeTimeoutMs: 3_000, lookupTimeoutMs: 1_000 };
  // Loose: the site is allowed, everything else denied (no traffic off the machine).
  loose = await createProxyDriver({ ...common, allow: [`127.0.0.1/32:${sitePort}`], deny: ["*"] });
  // Strict: the defaults alone; it is fed only special destinations, so it must refuse them all.
  strict = await createProxyDriver(common);
  looseCfg = await loose.activate({ sessionId: "loose", kind: "proxy", params: {} });
  strictCfg = await strict.activate({ sessionId: "strict", kind: "proxy", params: {} });
});
afterAll(async () => {
  await loose?.close();
  await strict?.close();
  await new Promise((r) => site?.close(r));
});

/** Sends `bytes`, half-closes, and collects the answer until the proxy closes (or 8 s pass). */
function exchange(port: number, bytes: Buffer): Promise<{ answer: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ answer: Buffer.concat(chunks), closed: false });
    }, 8_000);
    sock.on("error", () => undefined);
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.once("close", () => {
      clearTimeout(timer);
      resolve({ answer: Buffer.concat(chunks), closed: true });
    });
    sock.end(bytes);
  });
}

const PROTO_KEYS = ["__proto__", "constructor", "toString", "prototype", "hasOwnProperty"];

/** Mostly what a client would send, sometimes anything at all. */
const mostly = <T>(usual: fc.Arbitrary<T>, ...odd: fc.Arbitrary<T>[]) =>
  fc.oneof({ arbitrary: usual, weight: 4 }, ...odd.map((arbitrary) => ({ arbitrary, weight: 1 })));

const hostPart = mostly(
  fc.constantFrom(
    ...PROTO_KEYS,
    "127.0.0.1",
    "127.1",
    "0x7f.1",
    "2130706433",
    "localhost",
    "localhost.",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[",
    "]",
    "[]",
    "",
    "%00",
    "a..b",
  ),
  fc.string({ maxLength: 80 }),
  fc.integer({ min: 200, max: 9_000 }).map((n) => "a".repeat(n)),
  fc
    .array(fc.constantFrom("a", "0", ".", "-", "_", ":"), { maxLength: 300 })
    .map((a) => a.join("")),
);

const portPart = mostly(
  fc.constant("SITE"),
  fc.integer({ min: -1, max: 70_000 }).map(String),
  fc.constantFrom("", "0", "65536", "99999", "abc", "80x", "0x50", "1e3", "__proto__"),
);

const authPart = (cfg: () => TunnelConfig) =>
  mostly<(() => string) | null>(
    fc.constant(() => Buffer.from(`${cfg().username}:${cfg().password}`).toString("base64")),
    fc.string({ maxLength: 40 }).map((s) => () => Buffer.from(s).toString("base64")),
    fc.constantFrom(...PROTO_KEYS).map((k) => () => Buffer.from(`${k}:${k}`).toString("base64")),
    fc.constant(null),
  );

/** A CONNECT request head from random parts (with the right credentials most of the time). */
const connectRequest = (cfg: () => TunnelConfig) =>
  fc
    .record({
      method: mostly(fc.constant("CONNECT"), fc.constantFrom("GET", "connect", "__proto__")),
      host: hostPart,
      port: portPart,
      auth: authPart(cfg),
      eol: mostly(fc.constant("\r\n"), fc.constantFrom("\n", "\r\n\r\n")),
      version: mostly(fc.constant("HTTP/1.1"), fc.constantFrom("HTTP/1.0", "HTTP/2", "")),
      extra: fc.array(
        fc.tuple(fc.constantFrom(...PROTO_KEYS, "Host", "Proxy-Authorization"), fc.string()),
        { maxLength: 3 },
      ),
      tail: fc.uint8Array({ maxLength: 64 }),
    })
    .map((r) => {
      const port = r.port === "SITE" ? String(sitePort) : r.port;
      const auth = r.auth?.();
      const lines = [
        `${r.method} ${r.host}:${port} ${r.version}`,
        ...(auth === undefined ? [] : [`Proxy-Authorization: Basic ${auth}`]),
        ...r.extra.map(([k, v]) => `${k}: ${v}`),
      ];
      return Buffer.concat([
        Buffer.from(`${lines.join(r.eol)}\r\n\r\n`, "latin1"),
        Buffer.from(r.tail),
      ]);
    });

/** A SOCKS5 handshake from random parts: greeting, credentials, request, each maybe broken. */
const socksHandshake = (cfg: () => TunnelConfig) =>
  fc
    .record({
      methods: mostly<number[]>(fc.constant([2]), fc.array(fc.nat({ max: 255 }), { maxLength: 5 })),
      credentials: mostly<readonly [string, string] | null>(
        fc.constant(null),
        fc.tuple(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 })),
        fc.constantFrom(...PROTO_KEYS).map((k) => [k, k] as const),
      ),
      authVersion: mostly(fc.constant(1), fc.constantFrom(0, 5)),
      command: mostly(fc.constant(1), fc.constantFrom(2, 3, 0, 255)),
      atyp: mostly(fc.constantFrom(1, 3, 4), fc.constantFrom(0, 2, 255)),
      address: mostly(
        fc
          .constantFrom(...PROTO_KEYS, "localhost", "127.1", "[::1]", "")
          .map((s) => Buffer.from(s, "latin1")),
        fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      ),
      lengthSkew: mostly(fc.constant(0), fc.integer({ min: -3, max: 3 })),
      port: mostly(fc.constant(-1), fc.nat({ max: 65535 })),
      cut: mostly<number | undefined>(fc.constant(undefined), fc.nat({ max: 400 })),
      tail: fc.uint8Array({ maxLength: 32 }),
    })
    .map((r) => {
      const user = Buffer.from(r.credentials?.[0] ?? String(cfg().username));
      const pass = Buffer.from(r.credentials?.[1] ?? String(cfg().password));
      let addr: Buffer;
      if (r.atyp === 1) addr = Buffer.concat([r.address, Buffer.alloc(4)]).subarray(0, 4);
      else if (r.atyp === 4) addr = Buffer.concat([r.address, Buffer.alloc(16)]).subarray(0, 16);
      else {
        const len = Math.max(0, Math.min(255, r.address.length + r.lengthSkew));
        addr = Buffer.concat([Buffer.from([len]), r.address.subarray(0, 255)]);
      }
      const port = r.port < 0 ? sitePort : r.port;
      const bytes = Buffer.concat([
        Buffer.from([5, r.methods.length, ...r.methods]),
        Buffer.from([r.authVersion, user.length & 0xff]),
        user.subarray(0, 255),
        Buffer.from([pass.length & 0xff]),
        pass.subarray(0, 255),
        Buffer.from([5, r.command, 0, r.atyp]),
        addr,
        Buffer.from([port >> 8, port & 0xff]),
        Buffer.from(r.tail),
      ]);
      return r.cut === undefined ? bytes : bytes.subarray(0, r.cut);
    });

const anyInput = (cfg: () => TunnelConfig) =>
  fc.oneof(
    { arbitrary: connectRequest(cfg), weight: 3 },
    { arbitrary: socksHandshake(cfg), weight: 3 },
    { arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)), weight: 1 },
    {
      arbitrary: fc
        .uint8Array({ maxLength: 600 })
        .map((a) => Buffer.concat([Buffer.from([5]), Buffer.from(a)])),
      weight: 1,
    },
    {
      arbitrary: fc.integer({ min: 8_000, max: 20_000 }).map((n) => Buffer.alloc(n, "A")),
      weight: 1,
    },
  );

/** What a proxy answer may look like: an HTTP status line or SOCKS5 replies, never garbage. */
function wellFormed(answer: Buffer): boolean {
  if (answer.length === 0) return true;
  if (answer[0] === 5 || answer[0] === 1) return true;
  return /^HTTP\/1\.1 \d{3} /.test(answer.subarray(0, 13).toString("latin1"));
}

/** The CONNECT status or SOCKS5 reply code a proxy answer carries, when it got that far. */
function granted(answer: Buffer, socks: boolean): boolean {
  if (!socks) return /^HTTP\/1\.1 200 /.test(answer.toString("latin1"));
  // Greeting [5,2], auth [1,0], then [5,0,…] is a granted request.
  return answer.length >= 6 && answer[2] === 1 && answer[3] === 0 && answer[5] === 0;
}

describe("proxy driver under hostile input", () => {
  it("answers or closes every connection, many at once, and keeps serving", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          anyInput(() => looseCfg),
          { minLength: 1, maxLength: 12 },
        ),
        async (inputs) => {
          const results = await Promise.all(inputs.map((bytes) => exchange(loose.port, bytes)));
          for (const r of results) {
            expect(r.closed).toBe(true);
            expect(wellFormed(r.answer)).toBe(true);
          }
        },
      ),
      { numRuns: 100 },
    );
    const honest = await connectTarget(looseCfg, `127.0.0.1:${sitePort}`);
    expect(honest.code).toBe(200);
    honest.socket!.destroy();
    const viaSocks = await socksTarget(looseCfg, socksAddress(1, "127.0.0.1"), sitePort);
    expect(viaSocks.code).toBe(0);
    viaSocks.socket!.destroy();
  });

  it("the defaults never grant a special destination, whatever the spelling", async () => {
    const before = siteConnections;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            connectRequest(() => strictCfg),
            socksHandshake(() => strictCfg),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        async (inputs) => {
          const results = await Promise.all(
            inputs
              // Only destinations that cannot leave the machine: names (the fake resolver answers
              // them) and addresses in special ranges. SOCKS5 IPv4/IPv6 bytes are forced there.
              .map((bytes) => (bytes[0] === 5 ? specialiseSocks(bytes) : bytes))
              .filter((bytes) => bytes[0] === 5 || !publicLiteral(bytes))
              .map(async (bytes) => ({
                socks: bytes[0] === 5,
                ...(await exchange(strict.port, bytes)),
              })),
          );
          for (const r of results) {
            expect(r.closed).toBe(true);
            expect(granted(r.answer, r.socks)).toBe(false);
          }
        },
      ),
      { numRuns: 100 },
    );
    expect(siteConnections).toBe(before);
    const honest = await connectTarget(strictCfg, `127.0.0.1:${sitePort}`);
    expect([honest.code, honest.error]).toEqual([403, "DESTINATION_FORBIDDEN"]);
  });
});

/** Rewrites the address of a SOCKS5 IPv4/IPv6 request into 127.0.0.0/8 or ::1 (a no-op otherwise). */
function specialiseSocks(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const ulen = copy[3];
  if (ulen === undefined) return copy;
  const plen = copy[4 + ulen];
  if (plen === undefined) return copy;
  const methods = copy[1]!;
  const at = 2 + methods; // the auth sub-negotiation starts here
  const u = copy[at + 1];
  if (u === undefined) return copy;
  const p = copy[at + 2 + u];
  if (p === undefined) return copy;
  const req = at + 3 + u + p;
  const atyp = copy[req + 3];
  if (atyp === 1 && copy.length > req + 4) copy[req + 4] = 127;
  if (atyp === 4 && copy.length >= req + 4 + 16) {
    copy.fill(0, req + 4, req + 4 + 15);
    copy[req + 4 + 15] = 1;
  }
  return copy;
}

/** Whether a CONNECT head names an IP literal outside the special ranges (the strict test skips it). */
function publicLiteral(bytes: Buffer): boolean {
  const line = bytes.toString("latin1").split(/\r?\n/)[0] ?? "";
  const target = /^\S+ (\S+)/.exec(line)?.[1] ?? "";
  const host = target.replace(/:[^:\]]*$/, "").replace(/^\[|\]$/g, "");
  if (!/^[0-9a-fA-F:.]+$/.test(host)) return false;
  return !/^(127\.|::1$|::ffff:127\.|64:ff9b::7f00:1$|0\.|10\.|::$)/.test(host);
}
