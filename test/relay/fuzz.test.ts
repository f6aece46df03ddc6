/**
 * Fuzzing a live provider: random bytes, random MessagePack values (wrong types, prototype keys,
 * deep nesting, huge sizes), mutations of valid frames and floods, before AUTH and after it on a
 * connection that carries a paying session. A frame that cannot be read gets an ERROR and closes
 * its socket; one that can but breaks a rule gets an ERROR and changes nothing. Whatever is sent,
 * nothing reaches the process's last-resort handlers, no wrong proof is accepted, the session
 * resumes on a new connection, and an honest client is served in full afterwards.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createSigner } from "../../channels/crypto/signer.ts";
import { openWireConnection, type WireConnection } from "../../relay/requester/wire-connection.ts";
import { encodeFrame, packRaw, toArray } from "../../relay/wire/codec.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import { SAMPLES } from "./frames.ts";
import { domain, keyOf, removeDir, startProvider, type TestProvider, until } from "./helpers.ts";
import { expectHonestClientServed } from "./honest-client.ts";

let p: TestProvider;
const signer = createSigner(keyOf("fuzzer"));
let ref: ReturnType<TestProvider["channel"]>;
let sessionId = "";
let nonce = 0n;
const lastResort: unknown[] = [];
const onLastResort = (err: unknown) => lastResort.push(err);

const payFrame = (n: bigint): Frame => {
  const proof = { channelId: ref.channelId, nonce: n, transferred: n * 5n };
  return { type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) };
};

/** The codes a frame that cannot be read is refused with (and its socket closed). */
const FATAL = new Set([
  "FRAME_MALFORMED",
  "FRAME_TOO_DEEP",
  "FRAME_TOO_LARGE",
  "FRAME_UNKNOWN_TYPE",
]);

beforeAll(async () => {
  process.on("uncaughtException", onLastResort);
  process.on("unhandledRejection", onLastResort);
  p = await startProvider({ limits: { rate: { perSecond: 100_000, burst: 100_000 } } });
  ref = p.channel(keyOf("fuzzer"), 10n ** 12n);
  const wire = await openWireConnection({ url: p.node.url, signer });
  const frames: Frame[] = [];
  wire.onFrame = (f) => frames.push(f);
  wire.send({
    type: "OPEN",
    channelId: ref.channelId,
    ref: ref.ref,
    dealId: "fuzz",
    mode: "packet",
    unitPrice: 5n,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume: null,
  });
  nonce = 1n;
  wire.send(payFrame(nonce));
  await until(() => frames.some((f) => f.type === "READY"), 5000, "READY");
  const ready = frames.find((f) => f.type === "READY");
  sessionId = ready?.type === "READY" ? ready.sessionId : "";
  wire.close();
});
afterAll(async () => {
  process.off("uncaughtException", onLastResort);
  process.off("unhandledRejection", onLastResort);
  await p.stop();
  removeDir(p.dir);
});

/** A mutation of a valid frame's wire array: replace, drop or append a field, or flip a byte. */
const mutation = fc.record({
  base: fc.integer({ min: 0, max: SAMPLES.length }),
  kind: fc.constantFrom("replace", "drop", "append", "flip", "truncate"),
  at: fc.nat(),
  value: fc.oneof(
    fc.anything(),
    fc.uint8Array({ maxLength: 70 }),
    fc.bigInt(),
    // Channel references around their bound (1 to 256 bytes).
    fc.uint8Array({ minLength: 240, maxLength: 300 }),
  ),
});

/**
 * A well-formed OPEN whose reference the provider's backend did not make, or one of the right
 * shape that names no channel: answered with a code, the connection and its session go on.
 */
const foreignRef = fc
  .record({
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 256 }),
      fc.uint8Array({ minLength: 48, maxLength: 48 }),
    ),
    ours: fc.boolean(),
  })
  .map(({ bytes, ours }) => {
    const open = toArray(SAMPLES.find((f) => f.type === "OPEN")!);
    // The fuzzer's own channel's id (its session must not notice), or the sample's.
    if (ours) open[1] = Buffer.from(ref.channelId.slice(2), "hex");
    open[2] = Buffer.from(bytes);
    return safePack(open);
  });

// An ERROR from the requester is legitimately left unanswered: not a base for mutations.
const BASES = SAMPLES.filter((f) => f.type !== "ERROR");

const PROTO_KEYS = ["toString", "__proto__", "constructor", "valueOf", "hasOwnProperty", "then"];

/** Maps whose keys are prototype names, as a frame, a frame type or a parameter map. */
const protoMap = fc
  .record({
    keys: fc.subarray(PROTO_KEYS, { minLength: 1 }),
    value: fc.oneof(fc.anything(), fc.constant(1)),
    where: fc.constantFrom("frame", "type", "params"),
  })
  .map(({ keys, value, where }) => {
    const m = new Map(keys.map((k) => [k, value]));
    if (where === "frame") return safePack(m);
    if (where === "type") return safePack([m, 1]);
    const open = toArray(SAMPLES.find((f) => f.type === "OPEN")!);
    open[7] = m;
    return safePack(open);
  });

/** Arrays or maps nested up to far past the depth limit. */
const deep = fc
  .record({ depth: fc.integer({ min: 1, max: 4_095 }), map: fc.boolean() })
  .map(({ depth, map }) =>
    Buffer.concat([
      Buffer.alloc(depth, map ? 0x81 : 0x91),
      Buffer.alloc(map ? depth + 1 : 1, 0xc0),
    ]),
  );

/** Sizes around and far past the frame limit (4 KiB) and ws's (16 KiB). */
const huge = fc
  .record({ size: fc.integer({ min: 4_000, max: 70_000 }), fill: fc.nat(255) })
  .map(({ size, fill }) => Buffer.alloc(size, fill));

/** Bytes to send, and whether the node must answer them with an ERROR. */
type Attack = { bytes: Buffer; mustAnswer: boolean };

const attack: fc.Arbitrary<Attack> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b), mustAnswer: true })),
  fc.anything().map((v) => ({ bytes: safePack(v), mustAnswer: true })),
  protoMap.map((bytes) => ({ bytes, mustAnswer: true })),
  foreignRef.map((bytes) => ({ bytes, mustAnswer: true })),
  deep.map((bytes) => ({ bytes, mustAnswer: true })),
  // Past ws's limit the socket closes with 1009 and no ERROR: nothing to wait for.
  huge.map((bytes) => ({ bytes, mustAnswer: false })),
  // A mutated proof may be superseded by a valid proof of the same nonce in the same batch
  // (never verified, never needed, not answered).
  mutation.map((m) => ({
    bytes: mutate(m),
    mustAnswer: m.base % (BASES.length + 1) !== BASES.length,
  })),
);

function mutate(m: { base: number; kind: string; at: number; value: unknown }): Buffer {
  const b = m.base % (BASES.length + 1);
  const frame = b === BASES.length ? payFrame(nonce + 1n) : BASES[b]!;
  const arr = toArray(frame);
  const i = m.at % arr.length;
  if (m.kind === "replace") arr[i] = m.value;
  else if (m.kind === "drop") arr.splice(i, 1);
  else if (m.kind === "append") arr.push(m.value);
  const bytes = Buffer.from(safePack(arr));
  if (m.kind === "flip" && bytes.length > 0) bytes[m.at % bytes.length]! ^= 1 + (m.at % 255);
  if (m.kind === "truncate") return bytes.subarray(0, m.at % Math.max(1, bytes.length));
  return bytes;
}

function safePack(v: unknown): Buffer {
  try {
    return packRaw(v);
  } catch {
    return Buffer.from([0xc1]);
  }
}

/** Whether a socket closed; its errors (a reset by the node, say) are kept, not thrown. */
function watch(ws: WebSocket) {
  let closed = false;
  const errors: unknown[] = [];
  ws.on("error", (err) => errors.push(err));
  ws.on("close", () => {
    closed = true;
  });
  return { closed: () => closed, errors };
}

/** OPEN taking the fuzzer's session up on a new connection. */
const resumeFrame = (): Frame => ({
  type: "OPEN",
  channelId: ref.channelId,
  ref: ref.ref,
  dealId: "fuzz",
  mode: "packet",
  unitPrice: 5n,
  tunnelKind: "proxy",
  tunnelParams: {},
  prepayUnits: 1n,
  resume: sessionId,
});

describe("fuzzing a live provider", () => {
  it("after AUTH, on a paying session: refuses by value, closes on unreadable frames, and loses no payment", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(attack, { minLength: 1, maxLength: 8 }),
        fc.nat(1_500),
        async (attacks, flood) => {
          const wire: WireConnection = await openWireConnection({ url: p.node.url, signer });
          const frames: Frame[] = [];
          wire.onFrame = (f) => frames.push(f);
          const state = watch(wire.ws);
          // The session outlived its last socket: take it up here.
          wire.send(resumeFrame());
          await until(() => frames.some((f) => f.type === "ACK"), 5000, "resumed");
          // A flood of frames the node reads but does not take from a requester.
          const unexpected = encodeFrame({ type: "AUTH_OK", signature: new Uint8Array(65) });
          for (let i = 0; i < flood; i++) wire.sendRaw(unexpected);
          const refused = () => frames.filter((f) => f.type === "ERROR").length;
          await until(() => refused() >= flood, 5000, "the flood refused");
          const errorsBefore = p.node.stats().errorsSent;
          for (const a of attacks) {
            wire.sendRaw(a.bytes);
            // A valid payment between the attacks: it gets through unless the socket closed.
            nonce++;
            wire.send(payFrame(nonce));
          }
          const last = nonce;
          await until(
            () => state.closed() || frames.some((f) => f.type === "ACK" && f.nonce === last),
            5000,
            `ACK ${last} or a close`,
          );
          const errs = frames.flatMap((f) => (f.type === "ERROR" ? [f.code] : []));
          if (state.closed()) {
            // Closed for an unreadable frame, which was answered first, unless ws refused its
            // size before it was a frame at all.
            const oversize = attacks.some((a) => a.bytes.length > 16 * 1024);
            if (!oversize) expect(errs.some((c) => FATAL.has(c))).toBe(true);
          } else {
            const answerable = attacks.filter((a) => a.mustAnswer).length;
            await until(
              () => p.node.stats().errorsSent - errorsBefore >= answerable,
              5000,
              "errors",
            );
            expect(errs.some((c) => FATAL.has(c))).toBe(false);
          }
          // Only our own proofs were taken, the last of them at most.
          const got = p.node.channel(ref.channelId)!.received!.proof;
          expect(got.nonce).toBeLessThanOrEqual(last);
          expect(got.transferred).toBe(got.nonce * 5n);
          const acked = frames.flatMap((f) => (f.type === "ACK" ? [f.nonce] : []));
          for (const n of acked) expect(n).toBeLessThanOrEqual(got.nonce);
          wire.close();
          await until(() => state.closed(), 3000, "closed");
          expect(p.node.session(sessionId)?.phase).toBe("active");
          expect(lastResort).toEqual([]);
        },
      ),
      { numRuns: 30 },
    );
    await expectHonestClientServed(p);
  });

  it("before AUTH: answers or closes for anything, and the node keeps serving an honest client", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(attack, { minLength: 1, maxLength: 5 }), async (attacks) => {
        const ws = new WebSocket(p.node.url);
        let answers = 0;
        ws.on("message", () => answers++);
        const state = watch(ws);
        await new Promise((r) => ws.once("open", r));
        for (const a of attacks) ws.send(a.bytes);
        ws.send(encodeFrame(SAMPLES[5]!));
        // HELLO, then an ERROR; or the node closed the socket.
        await until(() => answers >= 2 || state.closed(), 3000, "answers");
        ws.terminate();
        await expectHonestClientServed(p);
        expect(lastResort).toEqual([]);
      }),
      { numRuns: 20 },
    );
  });
});
