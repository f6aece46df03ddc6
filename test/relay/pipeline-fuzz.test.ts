/**
 * Fuzzing the proof pipeline through a live node with small bounds: bursts of PAY frames with
 * random nonces, amounts and signature bytes (some valid, most forged, some bit-flipped on the
 * wire, some for channels the connection does not own), each burst on a connection of its own.
 * The node must stay up, keep its queues within their bounds, drain them, cut off connections
 * that keep sending forgeries, and go on serving an honest requester on another connection.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { ChannelId } from "../../channels/types.ts";
import { CloseCode } from "../../relay/errors.ts";
import type { ProofPipelineLimits } from "../../relay/provider/proof-pipeline.ts";
import { openWireConnection, type WireConnection } from "../../relay/requester/wire-connection.ts";
import { encodeFrame } from "../../relay/wire/codec.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import {
  domain,
  keyOf,
  MAX_DEPOSIT,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";

const LIMITS: ProofPipelineLimits = {
  maxQueuedPerConnection: 64,
  maxQueued: 128,
  reservedPerConnection: 4,
  maxBatchProofs: 32,
  invalidProofs: { perSecond: 1, burst: 4 },
};

let p: TestProvider;
let honest: WireConnection;
const honestFrames: Frame[] = [];
const honestSigner = createSigner(keyOf("pipeline-fuzz-honest"));
let honestRef: ReturnType<TestProvider["channel"]>;
let honestNonce = 1n;

const signed = (s: ReturnType<typeof createSigner>, channelId: ChannelId, n: bigint, t: bigint) => {
  const proof = { channelId, nonce: n, transferred: t };
  return { type: "PAY" as const, ...proof, signature: s.signBalanceProof(domain, proof) };
};

function openFrame(ref: ReturnType<TestProvider["channel"]>): Frame {
  return {
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
  };
}

beforeAll(async () => {
  p = await startProvider({ proofPipeline: LIMITS });
  honestRef = p.channel(keyOf("pipeline-fuzz-honest"), 10n ** 12n);
  honest = await openWireConnection({ url: p.node.url, signer: honestSigner });
  honest.onFrame = (f) => honestFrames.push(f);
  honest.send(openFrame(honestRef));
  honest.send(signed(honestSigner, honestRef.channelId, 1n, 5n));
  await until(() => honestFrames.some((f) => f.type === "READY"), 5000, "READY");
});
afterAll(async () => {
  honest?.close();
  await p.stop();
  removeDir(p.dir);
});

/** One PAY of the burst: whose channel, which fields, whose signature, a flipped signature byte. */
const pay = fc.record({
  foreign: fc.nat(9).map((n) => n === 0),
  nonce: fc.oneof(
    fc.bigInt({ min: 1n, max: 1_000n }),
    fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
  ),
  transferred: fc.oneof(
    fc.bigInt({ min: 0n, max: 10_000n }),
    // Up to the deepest deposit, so that every proof passes the cheap checks to the queue.
    fc.bigInt({ min: 0n, max: MAX_DEPOSIT }),
  ),
  signature: fc.oneof(
    fc.constant("valid" as const),
    fc.constant("other" as const),
    fc.uint8Array({ minLength: 65, maxLength: 65 }),
    fc.uint8Array({ minLength: 64, maxLength: 64 }),
  ),
  flip: fc.option(fc.nat(), { freq: 8 }),
});

let run = 0;

describe("fuzzing the proof pipeline", () => {
  it("keeps its bounds, drains, cuts off forgers and serves the honest requester", async () => {
    const other = createSigner(keyOf("pipeline-fuzz-other"));
    await fc.assert(
      fc.asyncProperty(
        fc.array(pay, { minLength: 100, maxLength: 300 }),
        fc.boolean(),
        async (burst, chunked) => {
          run++;
          const key = keyOf(`pipeline-fuzz-${run}`);
          const signer = createSigner(key);
          // As deep as the chain takes: no proof of the burst overdraws it.
          const ref = p.channel(key, MAX_DEPOSIT);
          const wire = await openWireConnection({ url: p.node.url, signer });
          const got: Frame[] = [];
          let closeCode: number | null = null;
          wire.onFrame = (f) => got.push(f);
          wire.onClose = (c) => {
            closeCode = c;
          };
          wire.send(openFrame(ref));
          wire.send(signed(signer, ref.channelId, 1n, 5n));
          await until(() => got.some((f) => f.type === "READY"), 5000, "READY");
          let peak = 0;
          let k = 0;
          for (const x of burst) {
            // In chunks, so that the burst spans several verify batches.
            if (chunked && ++k % 25 === 0) await sleep(5);
            const channelId = x.foreign ? honestRef.channelId : ref.channelId;
            const fields = { channelId, nonce: x.nonce, transferred: x.transferred };
            const signature =
              x.signature === "valid"
                ? signer.signBalanceProof(domain, fields)
                : x.signature === "other"
                  ? other.signBalanceProof(domain, fields)
                  : x.signature;
            const bytes = Buffer.from(encodeFrame({ type: "PAY", ...fields, signature }));
            // Flipped inside the signature, the last 64 bytes: the frame stays readable and its
            // proof goes to the pipeline (an unreadable frame closes the socket before it; the
            // wire fuzz tests cover that).
            if (x.flip !== null) bytes[bytes.length - 1 - (x.flip % 64)]! ^= 1 + (x.flip % 255);
            if (closeCode !== null) break;
            wire.sendRaw(bytes);
            peak = Math.max(peak, p.node.stats().pipeline.queuedProofs);
          }
          // The honest requester is served throughout.
          honestNonce++;
          honest.send(signed(honestSigner, honestRef.channelId, honestNonce, honestNonce * 5n));
          const want = honestNonce;
          await until(
            () => honestFrames.some((f) => f.type === "ACK" && f.nonce === want),
            5000,
            `honest ACK ${want}`,
          );
          await until(() => p.node.stats().pipeline.queuedProofs === 0, 5000, "queues drained");
          const st = p.node.stats().pipeline;
          expect(peak).toBeLessThanOrEqual(LIMITS.maxQueued + 2 * LIMITS.reservedPerConnection);
          expect(st.queuedProofsPeak).toBeLessThanOrEqual(
            LIMITS.maxQueued + 2 * LIMITS.reservedPerConnection,
          );
          // Cut off only for forgeries, or for a flipped byte that left a frame unreadable, and
          // then with the code first.
          if (closeCode === CloseCode.POLICY_VIOLATION) {
            expect(
              got.some((f) => f.type === "ERROR" && f.code === "TOO_MANY_INVALID_PROOFS"),
            ).toBe(true);
          } else if (closeCode !== null) {
            expect([CloseCode.PROTOCOL_ERROR, CloseCode.MESSAGE_TOO_BIG]).toContain(closeCode);
            expect(got.some((f) => f.type === "ERROR" && f.code.startsWith("FRAME_"))).toBe(true);
          }
          // Nothing of the burst landed on the honest channel.
          expect(p.node.channel(honestRef.channelId)?.received?.proof.nonce).toBe(want);
          wire.close();
        },
      ),
      { numRuns: 25 },
    );
    // The runs reached the bounds and the threshold.
    const st = p.node.stats().pipeline;
    expect(st.proofsDropped).toBeGreaterThan(0);
    expect(st.connectionsCut).toBeGreaterThan(0);
  }, 120_000);
});
