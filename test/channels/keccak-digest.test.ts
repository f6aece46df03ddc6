/** The fast keccak and the EIP-712 digests agree with @noble/hashes and ethers. */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { TypedDataEncoder } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BALANCE_PROOF,
  balanceProofDigest,
  domainSeparator,
  eip712Domain,
  hashStruct,
  hashStructRecord,
  settlementDigest,
  structType,
  typedDataDigest,
  writeBalanceProofWords,
  writeStructHeader,
  writeStructRecord,
} from "../../channels/crypto/eip712.ts";
import { keccak256 } from "../../channels/crypto/keccak.ts";
import { asChannelId } from "../../channels/types.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("keccak256", () => {
  it("matches @noble/hashes on every length around the 136-byte rate", () => {
    for (let len = 0; len <= 300; len++) {
      const data = Uint8Array.from({ length: len }, (_, i) => (i * 31 + len) & 0xff);
      expect(hex(keccak256(data))).toBe(hex(keccak_256(data)));
    }
  });

  it("property: matches @noble/hashes, also on sub-ranges and into an offset", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(20), fc.nat(20), (data, a, b) => {
        const start = Math.min(a, data.length);
        const end = Math.max(start, data.length - b);
        const out = new Uint8Array(40);
        keccak256(data, out, 5, start, end);
        expect(hex(out.subarray(5, 37))).toBe(hex(keccak_256(data.subarray(start, end))));
      }),
    );
  });
});

describe("EIP-712 digests", () => {
  const d = {
    chainId: 31337n,
    verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const,
  };
  const ethersDomain = { name: "tollway", version: "1", ...d };
  it("property: balance proof and settlement digests match ethers' TypedDataEncoder", () => {
    const dom = eip712Domain(d);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        (id, nonce, amount) => {
          const channelId = asChannelId(`0x${hex(id)}`);
          const proof = { channelId, nonce, transferred: amount };
          expect(`0x${hex(balanceProofDigest(dom, proof))}`).toBe(
            TypedDataEncoder.hash(
              ethersDomain,
              {
                BalanceProof: [
                  { name: "channelId", type: "bytes32" },
                  { name: "nonce", type: "uint64" },
                  { name: "transferred", type: "uint256" },
                ],
              },
              proof,
            ),
          );
          const s = { channelId, payoutA: amount, payoutB: nonce };
          expect(`0x${hex(settlementDigest(dom, s))}`).toBe(
            TypedDataEncoder.hash(
              ethersDomain,
              {
                Settlement: [
                  { name: "channelId", type: "bytes32" },
                  { name: "payoutA", type: "uint256" },
                  { name: "payoutB", type: "uint256" },
                ],
              },
              s,
            ),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("property: the balance proof's own writer writes what the generic one does", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: -1n, max: 1n << 64n }),
        fc.bigInt({ min: -1n, max: 1n << 256n }),
        (id, nonce, transferred) => {
          const proof = { channelId: asChannelId(`0x${hex(id)}`), nonce, transferred };
          const generic = Buffer.alloc(130);
          const own = Buffer.alloc(130);
          const end = writeStructRecord(generic, 0, BALANCE_PROOF, proof);
          writeStructHeader(own, 0, BALANCE_PROOF);
          expect(writeBalanceProofWords(own, 34, proof)).toBe(end === 130);
          if (end === 130) expect(hex(own)).toBe(hex(generic));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects out-of-range fields with TypeError", () => {
    const dom = eip712Domain(d);
    const channelId = asChannelId(`0x${"11".repeat(32)}`);
    expect(() => balanceProofDigest(dom, { channelId, nonce: 1n << 64n, transferred: 0n })).toThrow(
      TypeError,
    );
    expect(() => balanceProofDigest(dom, { channelId, nonce: -1n, transferred: 0n })).toThrow(
      TypeError,
    );
    expect(() =>
      balanceProofDigest(dom, { channelId, nonce: 1n, transferred: 1n << 256n }),
    ).toThrow(TypeError);
  });
});

describe("the one EIP-712 encoder, for any flat struct", () => {
  const fields = [
    { name: "who", type: "address" },
    { name: "note", type: "string" },
    { name: "id", type: "bytes32" },
    { name: "small", type: "uint8" },
    { name: "big", type: "uint256" },
    { name: "other", type: "string" },
  ];
  const Note = structType("Note", fields);
  const addr = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => `0x${hex(b)}`);
  const noteArb = fc.record({
    who: addr,
    note: fc.string({ unit: "grapheme", maxLength: 200 }),
    id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${hex(b)}`),
    small: fc.nat({ max: 255 }),
    big: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
    other: fc.string(),
  });
  const domainArb = fc.record(
    {
      name: fc.string(),
      version: fc.string(),
      chainId: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
      verifyingContract: addr,
    },
    { requiredKeys: ["name", "version", "chainId"] },
  );

  it("property: domain separators, struct hashes and digests match ethers", () => {
    fc.assert(
      fc.property(domainArb, noteArb, (d, note) => {
        const types = { Note: fields };
        expect(`0x${hex(domainSeparator(d))}`).toBe(TypedDataEncoder.hashDomain(d));
        expect(`0x${hex(hashStruct(Note, note))}`).toBe(TypedDataEncoder.from(types).hash(note));
        expect(`0x${hex(typedDataDigest(domainSeparator(d), Note, note))}`).toBe(
          TypedDataEncoder.hash(d, types, note),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("refuses what it cannot encode: other field types, values out of their type", () => {
    for (const type of [
      "uint",
      "uint7",
      "uint264",
      "int256",
      "bytes",
      "bool",
      "address[]",
      "Mail",
    ]) {
      expect(() => structType("S", [{ name: "x", type }])).toThrow(TypeError);
    }
    expect(() => structType("S", [])).toThrow(TypeError);
    const ok = {
      who: `0x${"11".repeat(20)}`,
      note: "",
      id: `0x${"22".repeat(32)}`,
      small: 255,
      big: 0n,
      other: "x",
    };
    expect(() => hashStruct(Note, ok)).not.toThrow();
    for (const bad of [
      { small: 256 },
      { small: -1 },
      { small: 1.5 },
      { small: "1" },
      { big: 1n << 256n },
      { who: "0x11" },
      { id: `0x${"22".repeat(31)}` },
      { note: 5 },
      { other: undefined },
    ]) {
      expect(() => hashStruct(Note, { ...ok, ...bad })).toThrow(TypeError);
    }
  });

  it("hashes only well-formed struct records", () => {
    const msg = { who: `0x${"11".repeat(20)}`, note: "abc", id: `0x${"22".repeat(32)}` };
    const S = structType("S", fields.slice(0, 3));
    const buf = Buffer.alloc(200);
    const end = writeStructRecord(buf, 0, S, msg);
    const out = new Uint8Array(32);
    const good = Buffer.from(buf.subarray(0, end));
    expect(hashStructRecord(Buffer.from(good), 0, end, out, 0)).toBe(end);
    expect(hex(out)).toBe(hex(hashStruct(S, msg)));
    const none = (_: Buffer) => undefined;
    const tail = 2 + 32 + 96;
    const broken: [string, (b: Buffer) => void, number][] = [
      ["no fields", (b) => b.writeUInt8(0, 0), end],
      ["more strings than fields", (b) => b.writeUInt8(4, 1), end],
      ["a string of a field that is not there", (b) => b.writeUInt8(3, tail), end],
      ["a string longer than the record", (b) => b.writeUInt32BE(4, tail + 1), end],
      ["cut short", none, end - 1],
      ["shorter than a header", none, 20],
    ];
    for (const [name, patch, at] of broken) {
      const b = Buffer.from(good);
      patch(b);
      expect({ name, end: hashStructRecord(b, 0, at, out, 0) }).toEqual({ name, end: -1 });
    }
  });
});
