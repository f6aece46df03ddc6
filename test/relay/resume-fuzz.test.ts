/**
 * Fuzzing the restart paths from both ends. A hostile provider answers the SDK's OPEN with
 * random ACCEPT, READY, ACK, ERROR, CLOSE and USAGE frames (wrong channels, prototype keys as
 * session ids, huge amounts) and raw bytes: the SDK never throws, its open settles, and it signs
 * no more than its `maxDebt` and one unit beyond what it had. A hostile requester floods a live
 * node with OPENs from several connections (new sessions, resumes of made-up ids) and payments
 * on one channel: the node keeps at most one session on it and serves an honest client after.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { ChannelRef } from "../../channels/settlement/channel-ref.ts";
import type { ChannelId } from "../../channels/types.ts";
import { isRelayError, type RelayErrorCode } from "../../relay/errors.ts";
import { connect } from "../../relay/requester/client.ts";
import { openWireConnection } from "../../relay/requester/wire-connection.ts";
import { decodeFrame, encodeFrame } from "../../relay/wire/codec.ts";
import { type Frame, PROTOCOL_VERSION } from "../../relay/wire/frames.ts";
import { handshakeDigest } from "../../relay/wire/handshake.ts";
import {
  domain,
  keyOf,
  providerAddress,
  providerKey,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";

const U64 = (1n << 64n) - 1n;
const U256 = (1n << 256n) - 1n;
const HOSTILE_IDS = [
  "__proto__",
  "toString",
  "constructor",
  "hasOwnProperty",
  "s1",
  "x".repeat(64),
];
const CODES: RelayErrorCode[] = [
  "SESSION_UNKNOWN",
  "NONCE_NOT_INCREASING",
  "CHANNEL_UNKNOWN",
  "SESSION_BUSY",
  "CREDIT_EXHAUSTED",
  "INTERNAL",
];

/** One frame of the hostile provider's script, given the channel the SDK opened. */
type Move = (channelId: ChannelId) => Buffer;

const amount = fc.oneof(fc.bigInt({ min: 0n, max: 5_000n }), fc.bigInt({ min: 0n, max: U256 }));
const sessionId = fc.oneof(
  fc.constantFrom(...HOSTILE_IDS),
  fc.string({ minLength: 1, maxLength: 64 }),
);
const channel = fc.oneof(
  fc.constant<"ours">("ours"),
  fc
    .uint8Array({ minLength: 32, maxLength: 32 })
    .map((b) => `0x${Buffer.from(b).toString("hex")}` as ChannelId),
);
const pick = (c: "ours" | ChannelId, ours: ChannelId) => (c === "ours" ? ours : c);
const frame = (f: Frame) => encodeFrame(f);

const move: fc.Arbitrary<Move> = fc.oneof(
  fc
    .record({
      c: channel,
      id: sessionId,
      n: fc.bigInt({ min: 0n, max: U64 }),
      t: amount,
      b: amount,
    })
    .map(
      ({ c, id, n, t, b }) =>
        (ours: ChannelId) =>
          frame({
            type: "ACCEPT",
            channelId: pick(c, ours),
            sessionId: id,
            ackedNonce: n,
            ackedTransferred: t,
            billed: b,
          }),
    ),
  fc.record({ c: channel, id: sessionId, n: fc.bigInt({ min: 0n, max: U64 }), t: amount }).map(
    ({ c, id, n, t }) =>
      (ours: ChannelId) =>
        frame({
          type: "READY",
          channelId: pick(c, ours),
          sessionId: id,
          tunnel: { __proto__: "x", host: "127.0.0.1" } as never,
          creditLimit: 10n,
          tickMs: 1000,
          ackedNonce: n,
          ackedTransferred: t,
          base: 0n,
        }),
  ),
  fc.record({ c: channel, n: fc.bigInt({ min: 0n, max: U64 }), t: amount }).map(
    ({ c, n, t }) =>
      (ours: ChannelId) =>
        frame({ type: "ACK", channelId: pick(c, ours), nonce: n, transferred: t, owed: t }),
  ),
  fc
    .record({
      code: fc.constantFrom(...CODES),
      ref: fc.oneof(channel, sessionId, fc.constant(null)),
    })
    .map(
      ({ code, ref }) =>
        (ours: ChannelId) =>
          frame({ type: "ERROR", code, message: "no", ref: ref === "ours" ? ours : ref }),
    ),
  fc.record({ id: sessionId, code: fc.constantFrom(...CODES) }).map(
    ({ id, code }) =>
      () =>
        frame({ type: "CLOSE", sessionId: id, code, reason: "r" }),
  ),
  fc.record({ id: sessionId, u: fc.bigInt({ min: 0n, max: U64 }) }).map(
    ({ id, u }) =>
      () =>
        frame({ type: "USAGE", sessionId: id, units: u, owed: u }),
  ),
  fc.uint8Array({ maxLength: 120 }).map((b) => () => Buffer.from(b)),
);

describe("a hostile provider", () => {
  let wss: WebSocketServer;
  let url: string;
  let script: Move[] = [];
  beforeAll(async () => {
    const signer = createSigner(providerKey);
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on("connection", (ws: WebSocket) => {
      const nonce = randomBytes(32);
      ws.send(
        encodeFrame({
          type: "HELLO",
          version: PROTOCOL_VERSION,
          chainId: domain.chainId,
          contract: domain.verifyingContract,
          provider: providerAddress,
          nonce,
        }),
      );
      ws.on("message", (data: Buffer) => {
        const decoded = decodeFrame(data);
        if (!decoded.ok) return;
        const f = decoded.value;
        if (f.type === "AUTH") {
          const d = handshakeDigest(
            "provider",
            domain,
            providerAddress,
            f.requester,
            nonce,
            f.nonce,
          );
          ws.send(encodeFrame({ type: "AUTH_OK", signature: signer.signDigest(d) }));
        } else if (f.type === "OPEN") {
          for (const m of script) ws.send(m(f.channelId));
        }
      });
    });
  });
  afterAll(async () => {
    await new Promise((r) => wss.close(r));
  });

  it("cannot crash the SDK, stall its open, or make it sign beyond maxDebt and a unit", async () => {
    const key = keyOf("fuzzed-requester");
    await fc.assert(
      fc.asyncProperty(fc.array(move, { minLength: 1, maxLength: 25 }), async (moves) => {
        script = moves;
        const client = await connect({ key, url, reconnect: { attempts: 0, delayMs: 1 } });
        const channelId = `0x${randomBytes(32).toString("hex")}` as ChannelId;
        const outcome = await client
          .openSession({
            channel: { channelId, ref: `0x${"ab".repeat(48)}` as ChannelRef, depositA: U256 },
            mode: "byte",
            unitPrice: 1n,
            tunnel: { kind: "proxy" },
            meter: () => 0,
            tolerance: { ratio: 0, units: 0n },
            maxDebt: 1_000n,
            timeoutMs: 400,
          })
          .then(
            () => "open",
            (err: unknown) => (isRelayError(err) ? err.code : `untyped: ${String(err)}`),
          );
        expect(outcome).not.toMatch(/^untyped/);
        await sleep(20);
        const signed = client.channel(channelId)?.sent?.proof.transferred ?? 0n;
        expect(signed).toBeLessThanOrEqual(1_001n);
        await client.close();
      }),
      { numRuns: 30 },
    );
  });
});

describe("a hostile requester on a live node", () => {
  let p: TestProvider;
  beforeAll(async () => {
    p = await startProvider({
      pricing: { second: { unitPrice: 10n, creditLimit: 20n, graceMs: 300, openTimeoutMs: 500 } },
      limits: { rate: { perSecond: 100_000, burst: 100_000 } },
    });
  });
  afterAll(async () => {
    await p.stop();
    removeDir(p.dir);
  });

  it("keeps one session per channel under OPEN floods and serves an honest client after", async () => {
    const key = keyOf("opener-flood");
    const signer = createSigner(key);
    const ref = p.channel(key, 10n ** 12n);
    let nonce = 0n;
    const open = (resume: string | null): Frame => ({
      type: "OPEN",
      channelId: ref.channelId,
      ref: ref.ref,
      dealId: "d",
      mode: "second",
      unitPrice: 10n,
      tunnelKind: "proxy",
      tunnelParams: {},
      prepayUnits: 1n,
      resume,
    });
    const action = fc.oneof(
      fc.record({ conn: fc.nat(3), kind: fc.constant<"open">("open") }),
      fc.record({ conn: fc.nat(3), kind: fc.constant<"resume">("resume"), id: sessionId }),
      fc.record({
        conn: fc.nat(3),
        kind: fc.constant<"pay">("pay"),
        units: fc.bigInt({ min: 0n, max: 3n }),
      }),
    );
    const conns = await Promise.all(
      [0, 1, 2, 3].map(() => openWireConnection({ url: p.node.url, signer, domain })),
    );
    const heard: Frame[] = [];
    for (const c of conns) c.onFrame = (f) => heard.push(f);
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 30 }), async (actions) => {
        for (const a of actions) {
          const c = conns[a.conn]!;
          if (a.kind === "open") c.send(open(null));
          else if (a.kind === "resume") c.send(open(a.id));
          else {
            nonce++;
            const proof = { channelId: ref.channelId, nonce, transferred: nonce * 10n + a.units };
            c.send({ type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) });
          }
        }
        await sleep(30);
        // Never more than one live session on the channel, whoever opened last.
        expect(p.node.stats().sessions).toBeLessThanOrEqual(1);
      }),
      { numRuns: 30 },
    );
    for (const c of conns) c.close();
    expect(heard.length).toBeGreaterThan(0);
    // An honest requester on its own channel is served as ever.
    const honestKey = keyOf("honest-after-flood");
    const client = await connect({ key: honestKey, url: p.node.url });
    const session = await client.openSession({
      channel: p.channel(honestKey, 1_000n),
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    await until(() => session.ackedNonce >= 2n, 3_000, "the honest session's ACKs");
    await session.close();
    await client.close();
  });
});
