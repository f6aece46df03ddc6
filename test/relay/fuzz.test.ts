/**
 * Fuzzing a live provider: random bytes, random MessagePack values and random mutations of
 * valid frames, interleaved with valid payments on the same authenticated connection. The
 * provider must stay up, answer, accept every valid payment and nothing else.
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

let p: TestProvider;
let wire: WireConnection;
const frames: Frame[] = [];
const signer = createSigner(keyOf("fuzzer"));
let ref: ReturnType<TestProvider["channel"]>;
let nonce = 0n;

const payFrame = (n: bigint): Frame => {
  const proof = { channelId: ref.channelId, nonce: n, transferred: n * 5n };
  return { type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) };
};

beforeAll(async () => {
  p = await startProvider({ limits: { rate: { perSecond: 100_000, burst: 100_000 } } });
  ref = p.channel(keyOf("fuzzer"), 10n ** 12n);
  wire = await openWireConnection({ url: p.node.url, signer });
  wire.onFrame = (f) => frames.push(f);
  wire.send({
    type: "OPEN",
    channelId: ref.channelId,
    salt: ref.salt,
    openBlock: ref.openBlock,
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
});
afterAll(async () => {
  wire?.close();
  await p.stop();
  removeDir(p.dir);
});

/** A mutation of a valid frame's wire array: replace, drop or append a field, or flip a byte. */
const mutation = fc.record({
  base: fc.integer({ min: 0, max: SAMPLES.length }),
  kind: fc.constantFrom("replace", "drop", "append", "flip", "truncate"),
  at: fc.nat(),
  value: fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 70 }), fc.bigInt()),
});

// An ERROR from the requester is legitimately left unanswered: not a base for mutations.
const BASES = SAMPLES.filter((f) => f.type !== "ERROR");

/**
 * Bytes to send, and whether an ERROR must come back: a mutated proof may be superseded by the
 * valid proof of the same nonce in the same batch (never verified, never needed, not answered).
 */
const attack: fc.Arbitrary<{ bytes: Buffer; mustAnswer: boolean }> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b), mustAnswer: true })),
  fc.anything().map((v) => ({ bytes: safePack(v), mustAnswer: true })),
  mutation.map((m) => ({
    bytes: mutate(m),
    mustAnswer: m.base % (BASES.length + 1) !== BASES.length,
  })),
);

function mutate(m: { base: number; kind: string; at: number; value: unknown }): Buffer {
  {
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
}

function safePack(v: unknown): Buffer {
  try {
    return packRaw(v);
  } catch {
    return Buffer.from([0xc1]);
  }
}

describe("fuzzing a live provider", () => {
  it("stays up, answers every bad frame, and loses no valid payment", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(attack, { minLength: 1, maxLength: 15 }), async (attacks) => {
        const before = frames.length;
        const errorsBefore = p.node.stats().errorsSent;
        for (const a of attacks) {
          wire.sendRaw(a.bytes);
          // A valid payment between the attacks: it must get through regardless.
          nonce++;
          wire.send(payFrame(nonce));
        }
        const last = nonce;
        await until(
          () => frames.some((f) => f.type === "ACK" && f.nonce === last),
          5000,
          `ACK ${last}`,
        );
        expect(frames.length).toBeGreaterThan(before);
        // Every attack was answered with an ERROR (none of them is a valid next frame).
        const answerable = attacks.filter((a) => a.mustAnswer).length;
        await until(() => p.node.stats().errorsSent - errorsBefore >= answerable, 5000, "errors");
        const ch = p.node.channel(ref.channelId)!;
        expect(ch.received?.proof.nonce).toBe(last);
        expect(ch.received?.proof.transferred).toBe(last * 5n);
        expect(wire.ws.readyState).toBe(WebSocket.OPEN);
      }),
      { numRuns: 40 },
    );
  });

  it("unauthenticated sockets get errors or a close for anything, and the node keeps serving", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(attack, { minLength: 1, maxLength: 5 }), async (attacks) => {
        const ws = new WebSocket(p.node.url);
        let answers = 0;
        ws.on("message", () => answers++);
        await new Promise((r) => ws.once("open", r));
        for (const a of attacks) ws.send(a.bytes);
        ws.send(encodeFrame(SAMPLES[5]!));
        await until(() => answers >= 2, 3000, "answers");
        ws.terminate();
      }),
      { numRuns: 20 },
    );
    const again = await openWireConnection({
      url: p.node.url,
      signer: createSigner(keyOf("later")),
    });
    expect(again.provider).toBe(p.node.address);
    again.close();
  });
});
