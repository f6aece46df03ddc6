import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_CHANNEL_REF_BYTES } from "../../channels/settlement/channel-ref.ts";
import type { ChannelId } from "../../channels/types.ts";
import { decodeFrame, encodeFrame, packRaw, toArray } from "../../relay/wire/codec.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import { checkStructure, MAX_FRAME_DEPTH } from "../../relay/wire/structure.ts";
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
        Buffer.alloc(48, 1),
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
        Buffer.alloc(48, 1),
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
    ["OPEN empty ref", openWithRef(Buffer.alloc(0)), "FRAME_MALFORMED"],
    ["OPEN 257-byte ref", openWithRef(Buffer.alloc(257, 1)), "FRAME_MALFORMED"],
    ["OPEN ref as a hex string", openWithRef(`0x${"ab".repeat(48)}`), "FRAME_MALFORMED"],
    ["OPEN ref as a number", openWithRef(7), "FRAME_MALFORMED"],
    ["OPEN ref missing", openWithRef(null), "FRAME_MALFORMED"],
    [
      "OPEN with the old salt and block",
      [
        ...openWithRef(Buffer.alloc(32)).slice(0, 3),
        Buffer.alloc(8),
        ...openWithRef(Buffer.alloc(32)).slice(3),
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

  it("carries any reference of 1 to MAX_CHANNEL_REF_BYTES bytes as lowercase hex, and refuses every other length (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: MAX_CHANNEL_REF_BYTES + 64 }), (ref) => {
        const r = decodeFrame(packRaw(openWithRef(Buffer.from(ref))));
        if (ref.length === 0 || ref.length > MAX_CHANNEL_REF_BYTES) {
          expect(r.ok ? null : r.code).toBe("FRAME_MALFORMED");
          return;
        }
        expect(r.ok && r.value.type === "OPEN" && r.value.ref).toBe(
          `0x${Buffer.from(ref).toString("hex")}`,
        );
        // And back: what the provider decoded is what the requester encodes again.
        if (r.ok)
          expect(
            Buffer.from(encodeFrame(r.value)).equals(packRaw(openWithRef(Buffer.from(ref)))),
          ).toBe(true);
      }),
      { numRuns: 500 },
    );
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

/** The OPEN sample's wire array with other tunnel parameters. */
function openWith(params: unknown): unknown[] {
  const arr = toArray(SAMPLES.find((f) => f.type === "OPEN")!);
  arr[7] = params;
  return arr;
}

/** The OPEN sample's wire array with another channel reference field. */
function openWithRef(ref: unknown): unknown[] {
  const arr = toArray(SAMPLES.find((f) => f.type === "OPEN")!);
  arr[2] = ref;
  return arr;
}

/** `depth` arrays, one inside the other, around a nil. */
function nested(depth: number): Buffer {
  return Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
}

describe("hostile bytes", () => {
  const hostile: [string, Buffer, string][] = [
    // msgpack of [{toString: 1}]: the frame type is a map whose toString is not a function.
    [
      "a map as the frame type",
      Buffer.from("9181a8746f537472696e6701", "hex"),
      "FRAME_UNKNOWN_TYPE",
    ],
    ["4,095 nested arrays", nested(4_095), "FRAME_TOO_DEEP"],
    [`${MAX_FRAME_DEPTH + 1} nested arrays`, nested(MAX_FRAME_DEPTH + 1), "FRAME_TOO_DEEP"],
    [
      "nested maps as keys",
      Buffer.from([0x81, 0x81, 0x81, 0x81, 0x81, 0xc0, 1, 2, 3, 4, 5]),
      "FRAME_TOO_DEEP",
    ],
    [
      "array32 claiming 2^32-1 items",
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]),
      "FRAME_MALFORMED",
    ],
    ["map32 claiming 2^32-1 pairs", Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), "FRAME_MALFORMED"],
    [
      "bin32 longer than the frame",
      Buffer.from([0x91, 0xc6, 0x7f, 0xff, 0xff, 0xff, 0]),
      "FRAME_MALFORMED",
    ],
    ["str16 cut short", Buffer.from([0x92, 0x06, 0xda, 0x01, 0x00, 0x61]), "FRAME_MALFORMED"],
    [
      "a RegExp extension",
      Buffer.concat([Buffer.from([0x92, 0x06, 0xd4, 0x78]), Buffer.from([0x00])]),
      "FRAME_MALFORMED",
    ],
    ["a timestamp extension", Buffer.from([0xd6, 0xff, 0, 0, 0, 1]), "FRAME_MALFORMED"],
    ["ext8 with a record", Buffer.from([0xc7, 0x01, 0x72, 0x00]), "FRAME_MALFORMED"],
    ["the never-used byte", Buffer.from([0x91, 0xc1]), "FRAME_MALFORMED"],
    [
      "bytes after the frame",
      Buffer.concat([packRaw([6]), Buffer.from([0xc0])]),
      "FRAME_MALFORMED",
    ],
    ["toString as the frame type", packRaw(["toString", 1]), "FRAME_UNKNOWN_TYPE"],
    ["a fractional frame type", packRaw([6.5, 1]), "FRAME_UNKNOWN_TYPE"],
    [
      "__proto__ as a parameter key",
      packRaw(openWith(new Map([["__proto__", "x"]]))),
      "FRAME_MALFORMED",
    ],
    [
      "a map as a parameter key",
      packRaw(openWith(new Map([[new Map([["a", 1]]), 1]]))),
      "FRAME_MALFORMED",
    ],
    ["a number as a parameter key", packRaw(openWith(new Map([[1, "x"]]))), "FRAME_MALFORMED"],
  ];
  it.each(hostile)("refuses %s by value", (_, bytes, code) => {
    const r = decodeFrame(bytes);
    expect(r.ok ? null : r.code).toBe(code);
  });

  it("passes every MessagePack type and width the wire can carry", () => {
    const values: unknown[] = [
      [0, 127, -1, -32, 200, -100, 60_000, -30_000, 4_000_000_000, -2_000_000_000],
      [2 ** 40, -(2 ** 40), 1.5, Number.MAX_VALUE, null, true, false],
      ["", "x".repeat(31), "y".repeat(200), "z".repeat(300), "é".repeat(40_000)],
      [Buffer.alloc(0), Buffer.alloc(200), Buffer.alloc(300), Buffer.alloc(70_000)],
      Array.from({ length: 20 }, (_, i) => i),
      Array.from({ length: 70_000 }, () => 0),
      new Map(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
      new Map(Array.from({ length: 70_000 }, (_, i) => [i, null])),
    ];
    for (const v of values)
      expect(checkStructure(packRaw(v))).toEqual({ ok: true, value: undefined });
  });

  it("keeps prototype names as plain keys of a prototype-less parameter object", () => {
    const r = decodeFrame(packRaw(openWith({ toString: "x", constructor: 1, valueOf: "v" })));
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.type !== "OPEN") return;
    expect(Object.getPrototypeOf(r.value.tunnelParams)).toBeNull();
    expect({ ...r.value.tunnelParams }).toEqual({ toString: "x", constructor: 1, valueOf: "v" });
  });

  it("accepts every value nested up to the limit and refuses every one nested deeper (property)", () => {
    // Arrays and maps of scalars, nested exactly `depth` deep along the first element.
    const value = (depth: number, leaf: unknown, asMap: boolean): unknown =>
      depth === 0
        ? leaf
        : asMap
          ? new Map([["k", value(depth - 1, leaf, !asMap)]])
          : [value(depth - 1, leaf, !asMap)];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean(), fc.double()),
        fc.boolean(),
        (depth, leaf, asMap) => {
          const r = checkStructure(packRaw(value(depth, leaf, asMap)));
          expect(r.ok).toBe(depth <= MAX_FRAME_DEPTH);
          if (!r.ok) expect(r.code).toBe("FRAME_TOO_DEEP");
        },
      ),
    );
  });

  it("accepts every packed value, and never throws on a changed byte (property)", () => {
    const json = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small", maxDepth: 3 },
        fc.integer(),
        fc.double(),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(tie("v"), { maxLength: 5 }),
        fc.dictionary(fc.string({ maxLength: 8 }), tie("v"), { maxKeys: 5 }),
      ),
    })).v;
    fc.assert(
      fc.property(json, fc.nat(), fc.nat(255), (v, at, byte) => {
        const bytes = Buffer.from(packRaw(v));
        expect(checkStructure(bytes).ok).toBe(true);
        // One changed byte: whatever the check says, the decoder does not throw past it.
        bytes[at % bytes.length] = byte;
        expect(typeof decodeFrame(bytes).ok).toBe("boolean");
      }),
      { numRuns: 2_000 },
    );
  });

  it("decodes the costliest 4 KiB frames in bounded time", () => {
    const pairs = 1_360; // a map16 of fixint pairs fills 4 KiB
    const wideMap = Buffer.concat([
      Buffer.from([0x92, 0x04, 0xde, pairs >> 8, pairs & 0xff]),
      Buffer.alloc(pairs * 2, 0x01),
    ]);
    const wideArray = Buffer.concat([Buffer.from([0xdc, 0x0f, 0xf0]), Buffer.alloc(4_080, 0x90)]);
    const deep = nested(4_095);
    const frames = [wideMap, wideArray, deep];
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(4_096);
    const t = performance.now();
    for (let i = 0; i < 1_000; i++) for (const f of frames) decodeFrame(f);
    // 3,000 hostile frames: a few tens of ms; the bound is wide for slow, loaded machines.
    expect(performance.now() - t).toBeLessThan(5_000);
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
