/**
 * Connection abuse against a live node over real sockets: TCP sockets that never upgrade,
 * WebSockets that never authenticate, authenticated strangers that hold no channel, floods from
 * several source addresses (127.x.y.z), raw HTTP garbage, unreadable frames on a paying session,
 * and the pre-AUTH frames that used to end a provider's process. Each ends with an honest client
 * served in full. The bookkeeping itself is checked as a pure model first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { ChannelRef } from "../../channels/settlement/channel-ref.ts";
import type { Address, ChannelId } from "../../channels/types.ts";
import { CloseCode } from "../../relay/errors.ts";
import {
  ConnectionGuard,
  ipKeyOf,
  type Slot,
  type SocketLimits,
} from "../../relay/provider/connection-guard.ts";
import type { ConnectionLimits } from "../../relay/provider/index.ts";
import type { SessionChannel } from "../../relay/requester/client.ts";
import { openWireConnection, type WireConnection } from "../../relay/requester/wire-connection.ts";
import { encodeFrame } from "../../relay/wire/codec.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import {
  domain,
  keyOf,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";
import { expectHonestClientServed } from "./honest-client.ts";

/** A raw TCP socket from `localAddress` that sends `bytes` (or nothing) and records its close. */
async function rawTcp(port: number, localAddress: string, bytes?: Uint8Array) {
  const socket: Socket = tcpConnect({ host: "127.0.0.1", port, localAddress });
  let closedAt: number | null = null;
  socket.on("error", () => undefined);
  // Read (and drop) what the node answers: a paused socket would never see its own close.
  socket.resume();
  socket.on("close", () => {
    closedAt = performance.now();
  });
  await new Promise<void>((resolve) => {
    socket.once("connect", () => resolve());
    socket.once("close", () => resolve());
  });
  const openedAt = performance.now();
  if (bytes !== undefined && !socket.destroyed) socket.write(bytes);
  return {
    socket,
    openedAt,
    closed: () => closedAt !== null,
    closedAfter: () => (closedAt === null ? null : closedAt - openedAt),
  };
}

/** A WebSocket from `localAddress` that never authenticates; records its close code. */
async function silentWs(url: string, localAddress: string) {
  const ws = new WebSocket(url, { localAddress });
  let code: number | null = null;
  let closedAt: number | null = null;
  ws.on("error", () => undefined);
  ws.on("close", (c) => {
    code = c;
    closedAt = performance.now();
  });
  await new Promise<void>((resolve) => {
    ws.once("open", () => resolve());
    ws.once("close", () => resolve());
  });
  const openedAt = performance.now();
  return {
    ws,
    code: () => code,
    closedAfter: () => (closedAt === null ? null : closedAt - openedAt),
  };
}

/** An OPEN of `ref`, new or resuming `resume`. */
function openFrame(ref: SessionChannel, resume: string | null = null): Frame {
  return {
    type: "OPEN",
    channelId: ref.channelId,
    ref: ref.ref,
    dealId: "guard",
    mode: "packet",
    unitPrice: 5n,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume,
  };
}

function payFrame(key: Uint8Array, ref: SessionChannel, nonce: bigint): Frame {
  const proof = { channelId: ref.channelId, nonce, transferred: nonce * 5n };
  return { type: "PAY", ...proof, signature: createSigner(key).signBalanceProof(domain, proof) };
}

/** An authenticated connection that records its frames and close code. */
async function authed(url: string, label: string) {
  const wire = await openWireConnection({ url, signer: createSigner(keyOf(label)) });
  const frames: Frame[] = [];
  let code: number | null = null;
  wire.onFrame = (f) => frames.push(f);
  wire.onClose = (c) => {
    code = c;
  };
  return { wire, frames, code: () => code };
}

async function withProvider(
  limits: Partial<ConnectionLimits>,
  fn: (p: TestProvider) => Promise<void>,
): Promise<void> {
  const p = await startProvider({ limits });
  try {
    await fn(p);
  } finally {
    await p.stop();
    removeDir(p.dir);
  }
}

describe("connection bookkeeping (model)", () => {
  it("keys IPv4 by address and IPv6 by its /64", () => {
    expect(ipKeyOf("127.0.0.2")).toBe("127.0.0.2");
    expect(ipKeyOf("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(ipKeyOf("2001:db8:0:1:aaaa::1")).toBe("2001:db8:0:1::/64");
    expect(ipKeyOf("2001:db8:0:1:bbbb:cccc:dddd:eeee")).toBe("2001:db8:0:1::/64");
    expect(ipKeyOf("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(ipKeyOf("::1")).toBe("0:0:0:0::/64");
    expect(ipKeyOf(undefined)).toBe("unknown");
  });

  it("never holds more than its limits, and a payer always finds a slot a stranger cannot take (property)", () => {
    const limits = fc.record({
      maxConnections: fc.integer({ min: 1, max: 12 }),
      reservedForPayers: fc.integer({ min: 0, max: 6 }),
      maxHandshakes: fc.integer({ min: 1, max: 8 }),
      maxPerIp: fc.integer({ min: 1, max: 6 }),
    });
    const op = fc.oneof(
      fc.record({ op: fc.constant("admit" as const), ip: fc.integer({ min: 0, max: 3 }) }),
      fc.record({
        op: fc.constantFrom(
          "auth" as const,
          "promote" as const,
          "demote" as const,
          "release" as const,
        ),
        which: fc.nat(),
        payer: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(limits, fc.array(op, { maxLength: 80 }), (l: SocketLimits, ops) => {
        const g = new ConnectionGuard<number>(l);
        const live: Slot<number>[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.op === "admit") {
            const r = g.admit(n++, `10.0.0.${o.ip}`);
            if (r.ok) {
              live.push(r.value.slot);
              if (r.value.evicted !== null) expect(r.value.evicted.released).toBe(true);
            } else {
              const fromIp = live.filter(
                (s) => !s.released && s.ipKey === `10.0.0.${o.ip}` && s.phase !== "payer",
              );
              expect(fromIp.length).toBeGreaterThanOrEqual(l.maxPerIp);
            }
          } else if (live.length > 0) {
            const s = live[o.which % live.length]!;
            if (o.op === "auth") {
              const before = g.counts();
              const r = g.authenticate(s, () => o.payer);
              const authedBefore = before.idle + before.payers;
              if (!r.ok) {
                // Refused only when full, or past the strangers' share for a stranger.
                const strangers = l.maxConnections - l.reservedForPayers;
                expect(
                  authedBefore >= l.maxConnections || (!o.payer && authedBefore >= strangers),
                ).toBe(true);
              }
            } else if (o.op === "promote") g.promote(s);
            else if (o.op === "demote") g.demote(s);
            else g.release(s);
          }
          const c = g.counts();
          const open = live.filter((s) => !s.released);
          expect(c.handshakes).toBe(open.filter((s) => s.phase === "handshake").length);
          expect(c.idle).toBe(open.filter((s) => s.phase === "idle").length);
          expect(c.payers).toBe(open.filter((s) => s.phase === "payer").length);
          expect(c.handshakes).toBeLessThanOrEqual(l.maxHandshakes);
          expect(c.idle + c.payers).toBeLessThanOrEqual(Math.max(l.maxConnections, 0));
          // A demoted payer may take its address past the limit (it is on the idle clock then);
          // admission alone never does.
          if (!ops.some((x) => x.op === "demote")) {
            for (let ip = 0; ip < 4; ip++) {
              const held = open.filter((s) => s.ipKey === `10.0.0.${ip}` && s.phase !== "payer");
              expect(held.length).toBeLessThanOrEqual(l.maxPerIp);
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("sockets that never upgrade", () => {
  it("are cut off at the upgrade deadline; past its cap an address is refused, another is not", async () => {
    const upgradeTimeoutMs = 1_500;
    await withProvider({ maxPerIp: 10, maxHandshakes: 100, upgradeTimeoutMs }, async (p) => {
      const port = p.node.port;
      const held = await Promise.all(Array.from({ length: 10 }, () => rawTcp(port, "127.0.0.2")));
      // Half an HTTP request on some: slow headers are no better than none.
      for (const s of held.slice(0, 5)) s.socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
      const extra = await Promise.all(Array.from({ length: 5 }, () => rawTcp(port, "127.0.0.2")));
      await until(() => extra.every((s) => s.closed()), 1_000, "the extra sockets refused");
      expect(held.every((s) => !s.closed())).toBe(true);
      // Another address is not held back by the first one's cap.
      const other = await Promise.all(Array.from({ length: 5 }, () => rawTcp(port, "127.0.0.3")));
      await sleep(100);
      expect(other.every((s) => !s.closed())).toBe(true);
      await expectHonestClientServed(p);
      await until(() => held.every((s) => s.closed()), upgradeTimeoutMs + 3_000, "dropped");
      for (const s of held) {
        expect(s.closedAfter()!).toBeGreaterThanOrEqual(upgradeTimeoutMs - 50);
        expect(s.closedAfter()!).toBeLessThan(upgradeTimeoutMs + 3_000);
      }
      for (const s of other) s.socket.destroy();
      // Its slots are free again: the address connects once more.
      const again = await rawTcp(port, "127.0.0.2");
      await sleep(100);
      expect(again.closed()).toBe(false);
      again.socket.destroy();
    });
  });

  it("a full handshake pool gives way to newcomers: idle sockets from many addresses cannot lock an honest client out", async () => {
    await withProvider({ maxPerIp: 10, maxHandshakes: 20, upgradeTimeoutMs: 5_000 }, async (p) => {
      const port = p.node.port;
      const idle: Awaited<ReturnType<typeof rawTcp>>[] = [];
      for (const ip of ["127.0.1.1", "127.0.1.2", "127.0.1.3"]) {
        idle.push(...(await Promise.all(Array.from({ length: 10 }, () => rawTcp(port, ip)))));
      }
      // Thirty sockets for twenty places: the ten oldest made room long before their deadline.
      await until(() => idle.filter((s) => s.closed()).length >= 10, 2_000, "evictions");
      await expectHonestClientServed(p);
      for (const s of idle) s.socket.destroy();
    });
  });

  it("raw bytes before the upgrade never hurt the node (property)", async () => {
    // A request that happens to be a whole upgrade becomes a WebSocket: the AUTH deadline ends it.
    await withProvider({ maxPerIp: 64, upgradeTimeoutMs: 500, authTimeoutMs: 500 }, async (p) => {
      const line = fc.oneof(
        fc.constantFrom(
          "GET / HTTP/1.1",
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version: 99",
          "Content-Length: 99999999999",
          "Transfer-Encoding: chunked",
          `X-Long: ${"a".repeat(20_000)}`,
          "__proto__: x",
          "constructor: y",
        ),
        fc.string({ maxLength: 80 }),
      );
      const request = fc.oneof(
        fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
        fc
          .array(line, { maxLength: 8 })
          .map((lines) => Buffer.from(`${lines.join("\r\n")}\r\n\r\n`)),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), async (reqs) => {
          const socks = await Promise.all(reqs.map((r) => rawTcp(p.node.port, "127.0.2.1", r)));
          await until(() => socks.every((s) => s.closed()), 6_000, "closed");
        }),
        { numRuns: 25 },
      );
      await expectHonestClientServed(p);
    });
  });
});

describe("WebSockets that never authenticate", () => {
  it("are closed with AUTH_TIMEOUT at the deadline while an honest client is served", async () => {
    const authTimeoutMs = 800;
    await withProvider({ maxPerIp: 16, authTimeoutMs }, async (p) => {
      const silent = await Promise.all(
        Array.from({ length: 12 }, () => silentWs(p.node.url, "127.0.3.1")),
      );
      await expectHonestClientServed(p);
      await until(() => silent.every((s) => s.code() !== null), authTimeoutMs + 3_000, "closed");
      for (const s of silent) {
        expect(s.code()).toBe(CloseCode.AUTH_TIMEOUT);
        expect(s.closedAfter()!).toBeLessThan(authTimeoutMs + 3_000);
      }
    });
  });

  it("are closed after a few frames that are not AUTH", async () => {
    await withProvider({ maxFramesBeforeAuth: 4, authTimeoutMs: 10_000 }, async (p) => {
      const s = await silentWs(p.node.url, "127.0.3.2");
      const notAuth = encodeFrame({
        type: "CLOSE",
        sessionId: "x",
        code: "CLOSED_BY_PEER",
        reason: "",
      });
      for (let i = 0; i < 10; i++) s.ws.send(notAuth);
      await until(() => s.code() !== null, 3_000, "closed");
      expect(s.code()).toBe(CloseCode.RATE_LIMITED);
      await expectHonestClientServed(p);
    });
  });
});

describe("the last slots are kept for payers", () => {
  it("refuses a stranger past its share, admits a returning payer, and drops idle strangers", async () => {
    const idleTimeoutMs = 1_500;
    await withProvider(
      { maxConnections: 6, reservedForPayers: 2, idleTimeoutMs, maxPerIp: 32 },
      async (p) => {
        // A payer with a session, whose socket then drops.
        const key = keyOf("returning-payer");
        const ref = p.channel(key, 1_000_000n);
        const first = await authed(p.node.url, "returning-payer");
        first.wire.send(openFrame(ref));
        first.wire.send(payFrame(key, ref, 1n));
        await until(() => first.frames.some((f) => f.type === "READY"), 5_000, "READY");
        const ready = first.frames.find((f) => f.type === "READY");
        const sessionId = ready?.type === "READY" ? ready.sessionId : "";
        first.wire.close();
        await until(() => first.code() !== null, 3_000, "closed");
        // Strangers take their share (6 − 2), and not one more.
        const strangers: Awaited<ReturnType<typeof authed>>[] = [];
        for (let i = 0; i < 4; i++) strangers.push(await authed(p.node.url, `stranger-${i}`));
        await expect(authed(p.node.url, "stranger-4")).rejects.toMatchObject({
          code: "CONNECTION_LIMIT",
        });
        // The payer comes back into a reserved slot and takes its session up again.
        const back = await authed(p.node.url, "returning-payer");
        back.wire.send(openFrame(ref, sessionId));
        back.wire.send(payFrame(key, ref, 2n));
        await until(
          () => back.frames.some((f) => f.type === "ACK" && f.nonce === 2n),
          5_000,
          "ACK 2",
        );
        // Strangers without a channel go at the idle deadline; the payer stays.
        await until(
          () => strangers.every((s) => s.code() !== null),
          idleTimeoutMs + 3_000,
          "idle strangers dropped",
        );
        for (const s of strangers) {
          expect(s.code()).toBe(CloseCode.IDLE_TIMEOUT);
          expect(s.frames.some((f) => f.type === "ERROR" && f.code === "IDLE_TIMEOUT")).toBe(true);
        }
        expect(back.code()).toBeNull();
        await expectHonestClientServed(p);
        back.wire.close();
      },
    );
  });
});

describe("a connection whose session moved away", () => {
  it("is a stranger again, and goes at the idle deadline: one channel keeps one connection", async () => {
    const idleTimeoutMs = 800;
    await withProvider({ idleTimeoutMs }, async (p) => {
      const key = keyOf("two-sockets");
      const ref = p.channel(key, 1_000_000n);
      const a = await authed(p.node.url, "two-sockets");
      a.wire.send(openFrame(ref));
      a.wire.send(payFrame(key, ref, 1n));
      await until(() => a.frames.some((f) => f.type === "READY"), 5_000, "READY");
      const ready = a.frames.find((f) => f.type === "READY");
      const sessionId = ready?.type === "READY" ? ready.sessionId : "";
      // Past the idle deadline, A holds its channel and stays.
      await sleep(idleTimeoutMs + 300);
      expect(a.code()).toBeNull();
      const b = await authed(p.node.url, "two-sockets");
      b.wire.send(openFrame(ref, sessionId));
      await until(() => b.frames.some((f) => f.type === "ACK"), 5_000, "resumed on B");
      await until(() => a.code() !== null, idleTimeoutMs + 3_000, "A dropped");
      expect(a.code()).toBe(CloseCode.IDLE_TIMEOUT);
      expect(b.code()).toBeNull();
      b.wire.close();
    });
  });
});

describe("an unreadable frame on a paying session", () => {
  it("is answered with an ERROR, closes the socket, and the session resumes on a new one", async () => {
    await withProvider({}, async (p) => {
      const key = keyOf("clumsy-payer");
      const ref = p.channel(key, 1_000_000n);
      const c = await authed(p.node.url, "clumsy-payer");
      c.wire.send(openFrame(ref));
      c.wire.send(payFrame(key, ref, 1n));
      await until(() => c.frames.some((f) => f.type === "READY"), 5_000, "READY");
      const ready = c.frames.find((f) => f.type === "READY");
      const sessionId = ready?.type === "READY" ? ready.sessionId : "";
      c.wire.sendRaw(Buffer.from("9181a8746f537472696e6701", "hex"));
      await until(() => c.code() !== null, 3_000, "closed");
      expect(c.code()).toBe(CloseCode.PROTOCOL_ERROR);
      expect(c.frames.at(-1)).toMatchObject({ type: "ERROR", code: "FRAME_UNKNOWN_TYPE" });
      expect(p.node.session(sessionId)?.phase).toBe("active");
      const again: WireConnection = await openWireConnection({
        url: p.node.url,
        signer: createSigner(key),
      });
      const frames: Frame[] = [];
      again.onFrame = (f) => frames.push(f);
      again.send(openFrame(ref, sessionId));
      again.send(payFrame(key, ref, 2n));
      await until(() => frames.some((f) => f.type === "ACK" && f.nonce === 2n), 5_000, "ACK 2");
      again.close();
    });
  });
});

describe("a provider in its own process", () => {
  let child: ChildProcess;
  let url = "";
  let dir = "";
  let added: ((c: { channelId: ChannelId; ref: ChannelRef }) => void) | null = null;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tollway-provider-proc-"));
    const script = new URL("./fixtures/bare-provider-process.ts", import.meta.url).pathname;
    child = spawn(process.execPath, [script, dir], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! });
    url = await new Promise<string>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`provider exited with ${code}`)));
      lines.on("line", (l) => {
        const m = JSON.parse(l) as {
          url?: string;
          added?: { channelId: ChannelId; ref: ChannelRef };
        };
        if (m.url !== undefined) resolve(m.url);
        if (m.added !== undefined) added?.(m.added);
      });
    });
  });
  afterAll(async () => {
    child.kill("SIGKILL");
    removeDir(dir);
  });

  /** Opens a channel on the child's chain (one at a time). */
  async function channel(key: Uint8Array, depositA: bigint): Promise<SessionChannel> {
    const requester = createSigner(key).address as Address;
    const done = new Promise<{ channelId: ChannelId; ref: ChannelRef }>((resolve) => {
      added = resolve;
    });
    child.stdin!.write(`${JSON.stringify({ requester, depositA: `${depositA}` })}\n`);
    return { ...(await done), depositA };
  }

  it("outlives the frames that used to end it, before AUTH and after, and serves an honest client", async () => {
    const killers = [
      Buffer.from("9181a8746f537472696e6701", "hex"), // [{toString: 1}]
      Buffer.concat([Buffer.alloc(4_095, 0x91), Buffer.from([0xc0])]), // 4,095 nested arrays
    ];
    for (const bytes of killers) {
      const s = await silentWs(url, "127.0.4.1");
      s.ws.send(bytes);
      await until(() => s.code() !== null, 3_000, "closed");
      expect(s.code()).toBe(CloseCode.PROTOCOL_ERROR);
      const a = await authed(url, "killer");
      a.wire.sendRaw(bytes);
      await until(() => a.code() !== null, 3_000, "closed after AUTH");
    }
    await sleep(200);
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
    await expectHonestClientServed({ url, channel });
  });
});
