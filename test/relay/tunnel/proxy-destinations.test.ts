/**
 * The metered proxy reaches only what the provider rents out: the real driver on loopback, with
 * sites on loopback that the default refuses in every spelling, and that one explicit allow
 * entry opens (that port, that address, nothing else).
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TunnelConfig } from "../../../relay/tunnel/driver.ts";
import { createProxyDriver } from "../../../relay/tunnel/proxy/index.ts";
import type { LookupAnswer } from "../../../relay/tunnel/proxy/resolve-destination.ts";
import { connectTarget, type ProxyAnswer, socksAddress, socksTarget } from "../proxy-client.ts";

type Driver = Awaited<ReturnType<typeof createProxyDriver>>;

/** A site that says its name to every connection and counts them. */
interface Site {
  readonly port: number;
  readonly server: Server;
  connections: number;
}

async function startSite(name: string, host = "127.0.0.1"): Promise<Site> {
  const site = { port: 0, connections: 0 } as { port: number; connections: number };
  const server = createServer((sock) => {
    site.connections++;
    sock.on("error", () => undefined);
    sock.end(`${name}\n`);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const addr = server.address();
  site.port = typeof addr === "object" && addr !== null ? addr.port : 0;
  return Object.assign(site, { server });
}

/** Reads what the site behind an open tunnel says. */
function hello(answer: ProxyAnswer | Socket): Promise<string> {
  const sock = "code" in answer ? answer.socket! : answer;
  return new Promise((resolve, reject) => {
    let text = "code" in answer ? answer.rest.toString("latin1") : "";
    sock.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    sock.once("close", () => resolve(text));
    sock.once("error", reject);
    sock.resume();
  });
}

let site: Site;
let strict: Driver;
let open: Driver;
let strictCfg: TunnelConfig;
let openCfg: TunnelConfig;
let sessions = 0;

const session = async (d: Driver) =>
  d.activate({ sessionId: `s${++sessions}`, kind: "proxy", params: {} });

beforeAll(async () => {
  site = await startSite("site");
  strict = await createProxyDriver();
  open = await createProxyDriver({ allow: [`127.0.0.1/32:${site.port}`] });
  strictCfg = await session(strict);
  openCfg = await session(open);
});
afterAll(async () => {
  await strict?.close();
  await open?.close();
  await new Promise((r) => site?.server.close(r));
});

/** Every way the tests could think of to write "the provider's loopback", as a CONNECT host. */
const loopbackSpellings = (port: number): string[] => [
  `127.0.0.1:${port}`,
  `127.0.0.2:${port}`,
  `127.255.255.254:${port}`,
  `localhost:${port}`,
  `LocalHost:${port}`,
  `localhost.:${port}`,
  `127.0.0.1.:${port}`,
  `127.1:${port}`,
  `127.0.1:${port}`,
  `0x7f.1:${port}`,
  `0x7f000001:${port}`,
  `2130706433:${port}`,
  `0177.0.0.1:${port}`,
  `017700000001:${port}`,
  `0.0.0.0:${port}`,
  `0:${port}`,
  `[::1]:${port}`,
  `[0:0:0:0:0:0:0:1]:${port}`,
  `[::]:${port}`,
  `[::ffff:127.0.0.1]:${port}`,
  `[::ffff:7f00:1]:${port}`,
  `[0:0:0:0:0:FFFF:7F00:0001]:${port}`,
  `[::127.0.0.1]:${port}`, // IPv4-compatible
  `[64:ff9b::7f00:1]:${port}`, // NAT64
  `[64:ff9b::127.0.0.1]:${port}`,
  `[2002:7f00:1::1]:${port}`, // 6to4
];

/** Other special-purpose destinations, refused without any connection attempt. */
const otherSpecial = [
  "10.0.0.1:80",
  "172.16.5.4:80",
  "192.168.1.1:80",
  "169.254.169.254:80", // cloud metadata
  "100.64.0.1:80",
  "198.18.0.1:80",
  "192.0.2.1:80",
  "224.0.0.1:80",
  "255.255.255.255:80",
  "240.0.0.1:80",
  "[fe80::1]:80",
  "[fd00::1]:80",
  "[fec0::1]:80",
  "[ff02::1]:80",
  "[2001:db8::1]:80",
  "[::ffff:10.0.0.1]:80",
  "[::ffff:169.254.169.254]:80",
  "[64:ff9b::a9fe:a9fe]:80",
];

async function expectRefused(answer: Promise<ProxyAnswer>, code = "DESTINATION_FORBIDDEN") {
  const a = await answer;
  expect({ code: a.code, error: a.error }).toEqual({ code: 403, error: code });
}

describe("HTTP CONNECT", () => {
  it("the default refuses every spelling of loopback with 403 DESTINATION_FORBIDDEN", async () => {
    const before = site.connections;
    for (const target of loopbackSpellings(site.port)) {
      const a = await connectTarget(strictCfg, target);
      expect([target, a.code, a.error]).toEqual([target, 403, "DESTINATION_FORBIDDEN"]);
    }
    expect(site.connections).toBe(before);
  });

  it("the default refuses private, link-local, multicast and documentation ranges", async () => {
    for (const target of otherSpecial) {
      const a = await connectTarget(strictCfg, target);
      expect([target, a.code, a.error]).toEqual([target, 403, "DESTINATION_FORBIDDEN"]);
    }
  });

  it("reaches the allowed site, also by the other spellings of its address", async () => {
    const a = await connectTarget(openCfg, `127.0.0.1:${site.port}`);
    expect(a.code).toBe(200);
    expect(await hello(a)).toBe("site\n");
    for (const spelling of ["127.1", "2130706433", "[::ffff:127.0.0.1]", "127.0.0.1."]) {
      const b = await connectTarget(openCfg, `${spelling}:${site.port}`);
      expect([spelling, b.code]).toEqual([spelling, 200]);
      expect(await hello(b)).toBe("site\n");
    }
  });

  it("the allow entry opens that address and port only: not the proxy itself, not another loopback address", async () => {
    const before = site.connections;
    await expectRefused(connectTarget(openCfg, `127.0.0.1:${open.port}`)); // a nested CONNECT
    await expectRefused(connectTarget(openCfg, `127.0.0.1:${strict.port}`));
    await expectRefused(connectTarget(openCfg, `127.0.0.2:${site.port}`));
    await expectRefused(connectTarget(openCfg, `[::1]:${site.port}`));
    await expectRefused(connectTarget(openCfg, `[64:ff9b::7f00:1]:${site.port}`));
    expect(site.connections).toBe(before);
  });

  it("refuses an empty or malformed host with 400", async () => {
    for (const target of [`:${site.port}`, `[]:${site.port}`, `a..b:${site.port}`, "x:0"]) {
      const a = await connectTarget(strictCfg, target);
      expect([target, a.code]).toEqual([target, 400]);
    }
  });

  it("serves no plain HTTP request (GET http://…): 405, and the site sees nothing", async () => {
    const before = site.connections;
    const { connect } = await import("node:net");
    const sock = connect(Number(openCfg.port), String(openCfg.host));
    const auth = Buffer.from(`${openCfg.username}:${openCfg.password}`).toString("base64");
    sock.write(
      `GET http://127.0.0.1:${site.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`,
    );
    expect(await hello(sock)).toMatch(/^HTTP\/1\.1 405 /);
    expect(site.connections).toBe(before);
  });
});

describe("SOCKS5", () => {
  it("the default refuses loopback as IPv4, IPv6 and name, and an empty name, with reply 0x02", async () => {
    const before = site.connections;
    const addresses: [string, Buffer][] = [
      ["127.0.0.1", socksAddress(1, "127.0.0.1")],
      ["0.0.0.0", socksAddress(1, "0.0.0.0")],
      ["::1", socksAddress(4, "::1")],
      ["::", socksAddress(4, "::")],
      ["::ffff:127.0.0.1", socksAddress(4, "::ffff:7f00:1")],
      ["64:ff9b::127.0.0.1", socksAddress(4, "64:ff9b::7f00:1")],
      ["localhost", socksAddress(3, "localhost")],
      ["localhost.", socksAddress(3, "localhost.")],
      ["127.1", socksAddress(3, "127.1")],
      ["0x7f.1", socksAddress(3, "0x7f.1")],
      ["2130706433", socksAddress(3, "2130706433")],
      ["[::1]", socksAddress(3, "[::1]")],
      ["::1 as a name", socksAddress(3, "::1")],
      ["empty name", socksAddress(3, "")],
      ["a name with a NUL", socksAddress(3, "local\0host")],
      ["a 255-byte name", socksAddress(3, "a".repeat(255))],
    ];
    for (const [what, address] of addresses) {
      const a = await socksTarget(strictCfg, address, site.port);
      expect([what, a.code]).toEqual([what, 0x02]);
    }
    expect(site.connections).toBe(before);
  });

  it("an empty name is refused even with loopback allowed (it used to mean localhost)", async () => {
    const a = await socksTarget(openCfg, socksAddress(3, ""), site.port);
    expect(a.code).toBe(0x02);
  });

  it("reaches the allowed site by IPv4, mapped IPv6 and a numeric name", async () => {
    for (const address of [
      socksAddress(1, "127.0.0.1"),
      socksAddress(4, "::ffff:7f00:1"),
      socksAddress(3, "127.0.0.1"),
      socksAddress(3, "127.1"),
    ]) {
      const a = await socksTarget(openCfg, address, site.port);
      expect(a.code).toBe(0);
      expect(await hello(a)).toBe("site\n");
    }
    const other = await socksTarget(openCfg, socksAddress(1, "127.0.0.1"), open.port);
    expect(other.code).toBe(0x02);
  });
});

describe("resolution", () => {
  it("looks a name up once and connects to the address it judged (no rebinding)", async () => {
    const decoy = await startSite("decoy", "127.0.0.2");
    let calls = 0;
    // The first answer is the allowed site; any later answer would be the decoy.
    const rebinding = async (): Promise<LookupAnswer[]> => [
      { address: calls++ === 0 ? "127.0.0.1" : "127.0.0.2", family: 4 },
    ];
    const d = await createProxyDriver({
      allow: [`127.0.0.1/32:${site.port}`, `127.0.0.2/32:${decoy.port}`],
      lookup: rebinding,
    });
    try {
      const cfg = await session(d);
      const a = await connectTarget(cfg, `rebind.test:${site.port}`);
      expect(a.code).toBe(200);
      expect(await hello(a)).toBe("site\n");
      expect(calls).toBe(1);
      expect(decoy.connections).toBe(0);
    } finally {
      await d.close();
      await new Promise((r) => decoy.server.close(r));
    }
  });

  it("refuses a name when any of its answers is forbidden", async () => {
    const d = await createProxyDriver({
      allow: [`127.0.0.1/32:${site.port}`],
      lookup: async () => [
        { address: "127.0.0.1", family: 4 },
        { address: "10.1.2.3", family: 4 },
      ],
    });
    try {
      const before = site.connections;
      await expectRefused(connectTarget(await session(d), `mixed.test:${site.port}`));
      expect(site.connections).toBe(before);
    } finally {
      await d.close();
    }
  });

  it("tries each judged address in turn", async () => {
    const d = await createProxyDriver({
      allow: [`127.0.0.0/8:${site.port}`],
      // Nothing listens on 127.0.0.3: the connection falls through to 127.0.0.1.
      lookup: async () => [
        { address: "127.0.0.3", family: 4 },
        { address: "127.0.0.1", family: 4 },
      ],
    });
    try {
      const a = await connectTarget(await session(d), `two.test:${site.port}`);
      expect(a.code).toBe(200);
      expect(await hello(a)).toBe("site\n");
    } finally {
      await d.close();
    }
  });

  it("answers 502 DESTINATION_UNRESOLVED and 502 CONNECT_REFUSED with their codes", async () => {
    const d = await createProxyDriver({
      allow: ["127.0.0.3/32"],
      lookup: async () => {
        throw Object.assign(new Error("no such name"), { code: "ENOTFOUND" });
      },
    });
    try {
      const cfg = await session(d);
      const unresolved = await connectTarget(cfg, "nowhere.test:80");
      expect([unresolved.code, unresolved.error]).toEqual([502, "DESTINATION_UNRESOLVED"]);
      const refused = await connectTarget(cfg, `127.0.0.3:${site.port}`);
      expect([refused.code, refused.error]).toEqual([502, "CONNECT_REFUSED"]);
      expect((await socksTarget(cfg, socksAddress(3, "nowhere.test"), 80)).code).toBe(0x04);
      expect((await socksTarget(cfg, socksAddress(1, "127.0.0.3"), site.port)).code).toBe(0x05);
    } finally {
      await d.close();
    }
  });

  it("bounds slow lookups: a timeout, a shared limit on lookups, and the session's connection limit", async () => {
    const stalled: (() => void)[] = [];
    let started = 0;
    const slow = () =>
      new Promise<LookupAnswer[]>((resolve) => {
        started++;
        stalled.push(() => resolve([{ address: "127.0.0.1", family: 4 }]));
      });
    const d = await createProxyDriver({
      allow: [`127.0.0.1/32:${site.port}`],
      lookup: slow,
      lookupTimeoutMs: 2_000, // long enough that all four requests are in before any times out
      maxConcurrentLookups: 1,
      maxConnectionsPerSession: 3,
    });
    try {
      const greedy = await session(d);
      const pending = [1, 2, 3].map((i) => connectTarget(greedy, `slow${i}.test:${site.port}`));
      await until(() => started === 1);
      // The session holds three connections in lookup: a fourth is refused at once.
      const fourth = await connectTarget(greedy, `slow4.test:${site.port}`);
      expect([fourth.code, fourth.error]).toEqual([429, "TOO_MANY_CONNECTIONS"]);
      // The running lookup and the two queued behind the one slot all time out.
      for (const a of await Promise.all(pending)) {
        expect([a.code, a.error]).toEqual([504, "LOOKUP_TIMEOUT"]);
      }
      // The stalled getaddrinfo still holds its slot: another session's name waits and times out…
      const other = await session(d);
      const waiting = await connectTarget(other, `late.test:${site.port}`);
      expect([waiting.code, waiting.error]).toEqual([504, "LOOKUP_TIMEOUT"]);
      expect(started).toBe(1);
      // …while an address needs no lookup and goes through.
      const literal = await connectTarget(other, `127.0.0.1:${site.port}`);
      expect(literal.code).toBe(200);
      expect(await hello(literal)).toBe("site\n");
      // Once the lookup returns, the slot is free again.
      stalled.shift()!();
      const next = connectTarget(other, `next.test:${site.port}`);
      await until(() => started === 2);
      stalled.shift()!();
      const a = await next;
      expect(a.code).toBe(200);
      expect(await hello(a)).toBe("site\n");
    } finally {
      for (const release of stalled) release();
      await d.close();
    }
  });

  it("a torn-down session's waiting lookups end with it", async () => {
    let started = 0;
    const d = await createProxyDriver({
      allow: [`127.0.0.1/32:${site.port}`],
      lookup: () => {
        started++;
        return new Promise<LookupAnswer[]>(() => undefined);
      },
      lookupTimeoutMs: 60_000,
      maxConcurrentLookups: 1,
    });
    try {
      const cfg = await d.activate({ sessionId: "gone", kind: "proxy", params: {} });
      const pending = connectTarget(cfg, `hang.test:${site.port}`).catch(() => "closed");
      await until(() => started === 1);
      await d.deactivate("gone");
      expect(await pending).toBe("closed");
    } finally {
      await d.close();
    }
  });
});

describe("configuration", () => {
  it.each([
    "127.0.0.1/33",
    "::1:80x",
    "[::1]:0",
    "10.0.0.0/8:70000",
    "10.0.0.0/8:90-80",
    "localhost:80",
    "fe80::1%eth0",
    "::1/128:80",
    "",
  ])("refuses the allow entry %j with TUNNEL_PARAMS_INVALID", async (entry) => {
    await expect(createProxyDriver({ allow: [entry] })).rejects.toMatchObject({
      code: "TUNNEL_PARAMS_INVALID",
    });
  });

  // What a deny entry refuses among public addresses is in proxy-rules.test.ts, without traffic.
  it("an allow entry wins over a deny entry", async () => {
    const d = await createProxyDriver({
      allow: [`127.0.0.1/32:${site.port}`],
      deny: ["*"],
    });
    try {
      const cfg = await session(d);
      const a = await connectTarget(cfg, `127.0.0.1:${site.port}`);
      expect(a.code).toBe(200);
      a.socket!.destroy();
      await expectRefused(connectTarget(cfg, `127.0.0.1:${open.port}`));
    } finally {
      await d.close();
    }
  });

  it("caps client connections that have not tunnelled yet", async () => {
    const { connect } = await import("node:net");
    const d = await createProxyDriver({ maxHandshakes: 3, handshakeTimeoutMs: 60_000 });
    try {
      // Three clients stop after the SOCKS5 greeting; its answer shows the proxy holds them.
      const idle = [1, 2, 3].map(() => connect(d.port, "127.0.0.1"));
      await Promise.all(
        idle.map((s) => {
          s.write(Buffer.from([5, 1, 2]));
          return new Promise((r) => s.once("data", r));
        }),
      );
      // A fourth is closed at once, unanswered (the handshake timeout is a minute).
      const extra = connect(d.port, "127.0.0.1");
      extra.on("error", () => undefined);
      extra.write(Buffer.from([5, 1, 2]));
      let answered = 0;
      extra.on("data", (b: Buffer) => {
        answered += b.length;
      });
      await new Promise((r) => extra.once("close", r));
      expect(answered).toBe(0);
      for (const s of idle) s.destroy();
      const cfg = await session(d);
      // Once the idle ones are gone, the proxy serves again.
      const served = async () =>
        (await connectTarget(cfg, "10.0.0.1:80").catch(() => null))?.code === 403;
      await until(served);
    } finally {
      await d.close();
    }
  });
});

async function until(test: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
