/** The fast keccak and the EIP-712 digests agree with @noble/hashes and ethers. */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { TypedDataEncoder } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  balanceProofDigest,
  eip712Domain,
  settlementDigest,
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
