/**
 * Nitro's encodings and signatures as pure functions: round trips, the Solidity range of every
 * field, destinations and status words, and signatures and vouchers checked against ethers'
 * Ethereum-signed-message rules (the byte-for-byte agreement with nitro-protocol itself is
 * test/vectors/nitro.test.ts, with the contracts the tests beside this one).
 */
import { AbiCoder, getBytes, hashMessage, hexlify, keccak256, verifyMessage } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSigner } from "../../../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../../../channels/crypto/verifier.ts";
import { compareProofs } from "../../../../channels/proof-order.ts";
import {
  addressOfDestination,
  decodeExit,
  decodeGuarantee,
  destinationOf,
  encodeExit,
  encodeGuarantee,
  hashNitroState,
  nitroChannelId,
  packNitroStatus,
  unpackNitroStatus,
} from "../../../../channels/settlement/nitro/encoding.ts";
import {
  checkStateSignature,
  fromNitroSignature,
  signState,
  stateDigest,
  toNitroSignature,
} from "../../../../channels/settlement/nitro/signatures.ts";
import type {
  Allocation,
  Exit,
  FixedPart,
  HexBytes,
  VariablePart,
} from "../../../../channels/settlement/nitro/types.ts";
import {
  checkVoucher,
  decodeVoucherAppData,
  encodeVoucherAppData,
  signVoucher,
  voucherDigest,
  voucherProof,
} from "../../../../channels/settlement/nitro/voucher.ts";
import { type Address, asChannelId } from "../../../../channels/types.ts";
import { devWallet } from "../../../../engine/chain/dev-accounts.ts";

const hex = (n: number) =>
  fc
    .uint8Array({ minLength: n, maxLength: n })
    .map((b) => hexlify(b).toLowerCase() as `0x${string}`);
const address = hex(20) as fc.Arbitrary<Address>;
const bytes = fc.uint8Array({ maxLength: 80 }).map((b) => hexlify(b) as HexBytes);
const uint256 = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });
const allocation: fc.Arbitrary<Allocation> = fc.record({
  destination: hex(32),
  amount: uint256,
  allocationType: fc.integer({ min: 0, max: 255 }),
  metadata: bytes,
});
const exit: fc.Arbitrary<Exit> = fc.array(
  fc.record({
    asset: address,
    assetMetadata: fc.record({ assetType: fc.integer({ min: 0, max: 255 }), metadata: bytes }),
    allocations: fc.array(allocation, { maxLength: 4 }),
  }),
  { maxLength: 3 },
);
const fixedPart: fc.Arbitrary<FixedPart> = fc.record({
  participants: fc.array(address, { minLength: 1, maxLength: 4 }),
  channelNonce: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  appDefinition: address,
  challengeDuration: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
});
const variablePart: fc.Arbitrary<VariablePart> = fc.record({
  outcome: exit,
  appData: bytes,
  turnNum: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  isFinal: fc.boolean(),
});

const alice = devWallet(1);
const aliceSigner = createSigner(getBytes(alice.privateKey));
const verifier = new ProofVerifier();

const baseFixed: FixedPart = {
  participants: [alice.address.toLowerCase() as Address, `0x${"22".repeat(20)}`],
  channelNonce: 1n,
  appDefinition: `0x${"33".repeat(20)}`,
  challengeDuration: 60,
};
const baseVariable: VariablePart = { outcome: [], appData: "0x", turnNum: 1, isFinal: false };

describe("Nitro encodings", () => {
  it("decode what they encode, and refuse any other bytes", () => {
    fc.assert(
      fc.property(exit, (e) => {
        const encoded = encodeExit(e);
        expect(decodeExit(encoded)).toEqual(e);
        expect(() => decodeExit(`${encoded}00` as HexBytes)).toThrow(TypeError);
        expect(() => decodeExit(encoded.slice(0, -2) as HexBytes)).toThrow(TypeError);
      }),
      { numRuns: 200 },
    );
  });

  it("hash any state the contracts can take, and refuse fields outside their Solidity type", () => {
    fc.assert(
      fc.property(fixedPart, variablePart, (fp, vp) => {
        expect(hashNitroState(fp, vp)).toMatch(/^0x[0-9a-f]{64}$/);
        // A channel id is never an external destination (it would be paid out as an address).
        expect(addressOfDestination(nitroChannelId(fp))).toBeUndefined();
      }),
      { numRuns: 100 },
    );
    const a1 = baseVariable;
    const bad: [Partial<FixedPart>, Partial<VariablePart>][] = [
      [{ channelNonce: 2n ** 64n }, {}],
      [{ channelNonce: -1n }, {}],
      [{ challengeDuration: 2 ** 48 }, {}],
      [{ challengeDuration: 1.5 }, {}],
      [{ appDefinition: "0x12" }, {}],
      [{ participants: ["0xzz" as Address] }, {}],
      [{}, { turnNum: 2 ** 48 }],
      [{}, { turnNum: -1 }],
      [{}, { appData: "0x1" as HexBytes }],
      [{}, { isFinal: 1 as unknown as boolean }],
      [
        {},
        {
          outcome: [
            { asset: "0x00", assetMetadata: { assetType: 0, metadata: "0x" }, allocations: [] },
          ] as unknown as Exit,
        },
      ],
      [
        {},
        {
          outcome: [
            {
              asset: baseFixed.appDefinition,
              assetMetadata: { assetType: 256, metadata: "0x" },
              allocations: [],
            },
          ],
        },
      ],
      [
        {},
        {
          outcome: [
            {
              asset: baseFixed.appDefinition,
              assetMetadata: { assetType: 0, metadata: "0x" },
              allocations: [
                {
                  destination: `0x${"00".repeat(32)}`,
                  amount: 2n ** 256n,
                  allocationType: 0,
                  metadata: "0x",
                },
              ],
            },
          ],
        },
      ],
      [
        {},
        {
          outcome: [
            {
              asset: baseFixed.appDefinition,
              assetMetadata: { assetType: 0, metadata: "0x" },
              allocations: [
                {
                  destination: `0x${"00".repeat(31)}`,
                  amount: 0n,
                  allocationType: 0,
                  metadata: "0x",
                },
              ],
            },
          ],
        },
      ],
    ];
    for (const [f, v] of bad) {
      expect(() => hashNitroState({ ...baseFixed, ...f }, { ...a1, ...v })).toThrow(TypeError);
    }
  });

  it("hash the channel id as abi.encode of the four fixed fields, mixed-case addresses included", () => {
    const upper = {
      ...baseFixed,
      participants: [alice.address as Address, baseFixed.participants[1]!],
    };
    const encoded = AbiCoder.defaultAbiCoder().encode(
      ["address[]", "uint64", "address", "uint48"],
      [upper.participants, upper.channelNonce, upper.appDefinition, upper.challengeDuration],
    );
    expect(nitroChannelId(upper)).toBe(keccak256(encoded));
    expect(nitroChannelId(upper)).toBe(nitroChannelId(baseFixed));
  });

  it("pad addresses into destinations and back", () => {
    fc.assert(
      fc.property(address, (a) => {
        const d = destinationOf(a);
        expect(d).toHaveLength(66);
        expect(addressOfDestination(d)).toBe(a.toLowerCase());
      }),
    );
    expect(addressOfDestination(`0x${"11".repeat(32)}`)).toBeUndefined();
    expect(() => destinationOf("0x12" as Address)).toThrow(TypeError);
  });

  it("encode guarantees as two words and read back only exactly that", () => {
    fc.assert(
      fc.property(hex(32), hex(32), (left, right) => {
        const m = encodeGuarantee({ left, right });
        expect(m).toBe(`0x${left.slice(2)}${right.slice(2)}`);
        expect(decodeGuarantee(m)).toEqual({ left, right });
        expect(decodeGuarantee(`${m}00` as HexBytes)).toBeUndefined();
      }),
    );
  });

  it("pack and unpack status words", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.bigInt({ min: 0n, max: 2n ** 160n - 1n }),
        (turnNumRecord, finalizesAt, fingerprint) => {
          const s = { turnNumRecord, finalizesAt, fingerprint };
          expect(unpackNitroStatus(packNitroStatus(s))).toEqual(s);
        },
      ),
    );
    expect(() =>
      packNitroStatus({ turnNumRecord: 2 ** 48, finalizesAt: 0, fingerprint: 0n }),
    ).toThrow(TypeError);
  });
});

describe("Nitro signatures", () => {
  it("sign a state's hash as an Ethereum signed message", () => {
    fc.assert(
      fc.property(variablePart, (vp) => {
        const hash = getBytes(hashNitroState(baseFixed, vp));
        expect(hexlify(stateDigest(baseFixed, vp))).toBe(hashMessage(hash));
        const sig = signState(aliceSigner, baseFixed, vp);
        expect(verifyMessage(hash, hexlify(sig))).toBe(alice.address);
        expect(
          checkStateSignature(verifier, baseFixed, vp, sig, alice.address as Address),
        ).toMatchObject({ ok: true });
      }),
      { numRuns: 50 },
    );
  });

  it("refuse another state's signature, a malleable one and a state outside its types, by code", () => {
    const sig = signState(aliceSigner, baseFixed, baseVariable);
    const later = { ...baseVariable, turnNum: 2 };
    const who = alice.address as Address;
    expect(checkStateSignature(verifier, baseFixed, later, sig, who)).toMatchObject({
      ok: false,
      code: "SIGNER_MISMATCH",
    });
    expect(
      checkStateSignature(verifier, { ...baseFixed, channelNonce: 2n }, baseVariable, sig, who),
    ).toMatchObject({ ok: false, code: "SIGNER_MISMATCH" });
    // s → n − s with v flipped recovers the same key: ecrecover would take it, the verifier does not.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const high = Uint8Array.from(sig);
    high.set(
      getBytes(`0x${(n - BigInt(hexlify(sig.subarray(32, 64)))).toString(16).padStart(64, "0")}`),
      32,
    );
    high[64] = sig[64] === 27 ? 28 : 27;
    expect(checkStateSignature(verifier, baseFixed, baseVariable, high, who)).toMatchObject({
      ok: false,
      code: "SIGNATURE_HIGH_S",
    });
    expect(
      checkStateSignature(verifier, baseFixed, { ...baseVariable, turnNum: -1 }, sig, who),
    ).toMatchObject({ ok: false, code: "VALUE_OUT_OF_RANGE" });
  });

  it("turn r‖s‖v and EIP-2098 bytes into the contract's { v, r, s } and back", () => {
    fc.assert(
      fc.property(hex(32), (h) => {
        const sig = aliceSigner.signDigest(getBytes(h));
        const struct = toNitroSignature(sig);
        expect(fromNitroSignature(struct)).toEqual(sig);
        const compact = Uint8Array.from(sig.subarray(0, 64));
        if (sig[64] === 28) compact[32] = compact[32]! | 0x80;
        expect(toNitroSignature(compact)).toEqual(struct);
      }),
      { numRuns: 50 },
    );
    expect(() => toNitroSignature(new Uint8Array(65))).toThrow(TypeError);
    expect(() => toNitroSignature(new Uint8Array(63))).toThrow(TypeError);
  });
});

describe("vouchers", () => {
  it("sign keccak256(abi.encode(channelId, amount)) as an Ethereum signed message", () => {
    fc.assert(
      fc.property(hex(32), uint256, (id, amount) => {
        const voucher = { channelId: asChannelId(id), amount };
        const hash = keccak256(
          AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [id, amount]),
        );
        expect(hexlify(voucherDigest(voucher))).toBe(hashMessage(getBytes(hash)));
        const signed = signVoucher(aliceSigner, voucher);
        expect(verifyMessage(getBytes(hash), hexlify(signed.signature))).toBe(alice.address);
        expect(checkVoucher(verifier, signed, alice.address as Address)).toMatchObject({
          ok: true,
        });
        // The digest is written in place: an earlier result is not overwritten.
        const first = voucherDigest(voucher);
        voucherDigest({ channelId: voucher.channelId, amount: amount ^ 1n });
        expect(first).toEqual(voucherDigest(voucher));
      }),
      { numRuns: 100 },
    );
  });

  it("refuse a voucher with another amount, for another channel, by another payer or outside its types, by code", () => {
    const id = asChannelId(`0x${"ab".repeat(32)}`);
    const signed = signVoucher(aliceSigner, { channelId: id, amount: 50n });
    const payer = alice.address as Address;
    const cases = [
      [{ ...signed, voucher: { channelId: id, amount: 51n } }, payer, "SIGNER_MISMATCH"],
      [
        { ...signed, voucher: { channelId: asChannelId(`0x${"cd".repeat(32)}`), amount: 50n } },
        payer,
        "SIGNER_MISMATCH",
      ],
      [signed, `0x${"44".repeat(20)}` as Address, "SIGNER_MISMATCH"],
      [{ ...signed, voucher: { channelId: id, amount: 2n ** 256n } }, payer, "VALUE_OUT_OF_RANGE"],
      [
        { ...signed, voucher: { channelId: `0x${"zz".repeat(32)}` as never, amount: 1n } },
        payer,
        "VALUE_OUT_OF_RANGE",
      ],
      [{ ...signed, signature: signed.signature.subarray(0, 60) }, payer, "SIGNATURE_LENGTH"],
    ] as const;
    for (const [v, who, code] of cases) {
      expect(checkVoucher(verifier, v, who)).toMatchObject({ ok: false, code });
    }
  });

  it("carry their redemption appData and order by amount as payment proofs", () => {
    fc.assert(
      fc.property(hex(32), uint256, uint256, (id, a, b) => {
        const channelId = asChannelId(id);
        const signed = signVoucher(aliceSigner, { channelId, amount: a });
        const appData = encodeVoucherAppData(signed);
        expect(appData).toHaveLength(2 + 256);
        expect(decodeVoucherAppData(channelId, appData)).toEqual(signed);
        const order = compareProofs(
          voucherProof({ channelId, amount: a }),
          voucherProof({ channelId, amount: b }),
        );
        expect(Math.sign(order)).toBe(a > b ? 1 : a < b ? -1 : 0);
      }),
      { numRuns: 50 },
    );
    const id = asChannelId(`0x${"ab".repeat(32)}`);
    expect(decodeVoucherAppData(id, "0x")).toBeUndefined();
    expect(decodeVoucherAppData(id, `0x${"00".repeat(128)}`)).toBeUndefined();
  });
});
