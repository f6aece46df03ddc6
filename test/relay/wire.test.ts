import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChannelId } from "../../channels/types.ts";
import { decodeFrame, encodeFrame, packRaw, toArray } from "../../relay/wire/codec.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import { cid, MAX, SAMPLES, sig } from "./frames.ts";

describe("wire codec", () => {
  it.each(SAMPLES.map((f) => [f.type, f] as const))("round-trips %s", (_, frame) => {
    const decoded = decodeFrame(encodeFrame(frame));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(normalize(decoded.value)).toEqual(normalize(frame));
  });

  it("uint256 amounts are 32 big-endian bytes on the wire", () => {
    const arr = toArray({ type: "ACK", channelId: cid, nonce: 1n, transferred: 258n, owed: 0n });
    expect(Buffer.from(arr[3] as Uint8Array).toString("hex")).toBe(`${"00".repeat(30)}0102`);
  });

  const bad: [string, unknown, string][] = [
    ["not an array", { a: 1 }, "FRAME_MALFORMED"],
    ["empty array", [], "FRAME_MALFORMED"],
    ["unknown type", [99, 1], "FRAME_UNKNOWN_TYPE"],
    ["type as string", ["PAY"], "FRAME_UNKNOWN_TYPE"],
    ["PAY missing fields", [6, Buffer.alloc(32)], "FRAME_MALFORMED"],
    [
      "PAY short channel id",
      [6, Buffer.alloc(31), Buffer.alloc(8), Buffer.alloc(32), sig],
      "FRAME_MALFORMED",
    ],
    ["PAY nonce as number", [6, Buffer.alloc(32), 5, Buffer.alloc(32), sig], "FRAME_MALFORMED"],
    [
      "PAY 63-byte signature",
      [6, Buffer.alloc(32), Buffer.alloc(8), Buffer.alloc(32), Buffer.alloc(63)],
      "FRAME_MALFORMED",
    ],
    [
      "OPEN unknown mode",
      [
        4,
        Buffer.alloc(32),
        Buffer.alloc(32),
        Buffer.alloc(8),
        "d",
        "hour",
        Buffer.alloc(32),
        "proxy",
        {},
        Buffer.alloc(8),
        null,
        null,
      ],
      "FRAME_MALFORMED",
    ],
    [
      "OPEN nested params",
      [
        4,
        Buffer.alloc(32),
        Buffer.alloc(32),
        Buffer.alloc(8),
        "d",
        "byte",
        Buffer.alloc(32),
        "proxy",
        { a: { b: 1 } },
        Buffer.alloc(8),
        null,
        null,
      ],
      "FRAME_MALFORMED",
    ],
    ["CLOSE lowercase code", [10, "s", "bye", "r"], "FRAME_MALFORMED"],
    ["WARN negative", [9, "s", -1, Buffer.alloc(32)], "FRAME_MALFORMED"],
    [
      "extra field",
      [7, Buffer.alloc(32), Buffer.alloc(8), Buffer.alloc(32), Buffer.alloc(32), 1],
      "FRAME_MALFORMED",
    ],
  ];
  it.each(bad)("rejects %s", (_, raw, code) => {
    const r = decodeFrame(packRaw(raw));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });

  it("checks the size before decoding and rejects garbage bytes", () => {
    const big = decodeFrame(Buffer.alloc(5000, 0x91), 4096);
    expect(big.ok ? null : big.code).toBe("FRAME_TOO_LARGE");
    const junk = decodeFrame(Buffer.from([0xc1]));
    expect(junk.ok ? null : junk.code).toBe("FRAME_MALFORMED");
  });

  it("never throws on arbitrary bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = decodeFrame(bytes);
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("writes ACK as the same bytes as the general encoder (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: MAX }),
        fc.bigInt({ min: 0n, max: MAX }),
        (id, nonce, transferred, owed) => {
          const channelId = `0x${Buffer.from(id).toString("hex")}` as ChannelId;
          const f: Frame = { type: "ACK", channelId, nonce, transferred, owed };
          expect(Buffer.from(encodeFrame(f)).toString("hex")).toBe(
            Buffer.from(packRaw(toArray(f))).toString("hex"),
          );
        },
      ),
    );
    const over: Frame = {
      type: "ACK",
      channelId: cid,
      nonce: 1n << 64n,
      transferred: 0n,
      owed: 0n,
    };
    expect(() => encodeFrame(over)).toThrow(RangeError);
  });

  it("round-trips any PAY in range (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: MAX }),
        (nonce, transferred) => {
          const f: Frame = { type: "PAY", channelId: cid, nonce, transferred, signature: sig };
          const r = decodeFrame(encodeFrame(f));
          expect(
            r.ok &&
              r.value.type === "PAY" &&
              r.value.nonce === nonce &&
              r.value.transferred === transferred,
          ).toBe(true);
        },
      ),
    );
  });
});

function normalize(f: Frame): unknown {
  return JSON.parse(
    JSON.stringify(f, (_, v) =>
      typeof v === "bigint"
        ? `${v}n`
        : v instanceof Uint8Array || (v && v.type === "Buffer")
          ? Buffer.from(v.data ?? v).toString("hex")
          : v,
    ),
  );
}
