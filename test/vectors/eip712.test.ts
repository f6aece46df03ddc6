import { hexlify, recoverAddress, TypedDataEncoder } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  balanceProofDigest,
  eip712Domain,
  settlementDigest,
} from "../../channels/crypto/eip712.ts";
import { asChannelId } from "../../channels/types.ts";
import { deployFixture, type Fixture } from "../helpers/chain.ts";
import vectors from "./eip712.json" with { type: "json" };

const domain = eip712Domain({
  chainId: BigInt(vectors.domain.chainId),
  verifyingContract: vectors.domain.verifyingContract as `0x${string}`,
});
const { separator: _separator, ...domainFields } = vectors.domain;
const ethersDomain = { ...domainFields, chainId: BigInt(vectors.domain.chainId) };
const proofs = vectors.balanceProofs.map((v) => ({
  ...v,
  proof: {
    channelId: asChannelId(v.channelId),
    nonce: BigInt(v.nonce),
    transferred: BigInt(v.transferred),
  },
}));
const settlements = vectors.settlements.map((v) => ({
  ...v,
  settlement: {
    channelId: asChannelId(v.channelId),
    payoutA: BigInt(v.payoutA),
    payoutB: BigInt(v.payoutB),
  },
}));

describe("EIP-712 vectors: channels/, ethers and the contract agree byte for byte", () => {
  it("channels/ computes the domain separator and every digest in the file", () => {
    expect(hexlify(domain.separator)).toBe(vectors.domain.separator);
    for (const v of proofs) expect(hexlify(balanceProofDigest(domain, v.proof))).toBe(v.digest);
    for (const v of settlements)
      expect(hexlify(settlementDigest(domain, v.settlement))).toBe(v.digest);
  });

  it("ethers' TypedDataEncoder reproduces the file, and every signature recovers the signer", () => {
    const bp = {
      BalanceProof: [
        { name: "channelId", type: "bytes32" },
        { name: "nonce", type: "uint64" },
        { name: "transferred", type: "uint256" },
      ],
    };
    for (const v of proofs) {
      expect(TypedDataEncoder.hash(ethersDomain, bp, v.proof)).toBe(v.digest);
      expect(recoverAddress(v.digest, v.signature)).toBe(vectors.signer.address);
      expect(recoverAddress(v.digest, v.compactSignature)).toBe(vectors.signer.address);
    }
  });

  it("rejects fields out of their Solidity range", () => {
    const id = proofs[0]!.proof.channelId;
    expect(() =>
      balanceProofDigest(domain, { channelId: id, nonce: 2n ** 64n, transferred: 0n }),
    ).toThrow(TypeError);
    expect(() =>
      balanceProofDigest(domain, { channelId: id, nonce: -1n, transferred: 0n }),
    ).toThrow(TypeError);
    expect(() =>
      settlementDigest(domain, { channelId: id, payoutA: 2n ** 256n, payoutB: 0n }),
    ).toThrow(TypeError);
    expect(() =>
      balanceProofDigest(domain, { channelId: "0x12" as never, nonce: 0n, transferred: 0n }),
    ).toThrow(TypeError);
  });

  describe("on chain", () => {
    let f: Fixture;
    beforeAll(async () => {
      f = await deployFixture();
    });
    afterAll(() => f.connection.close());

    it("deploys at the vectors' verifying contract and hashes every vector the same", async () => {
      expect(await f.channels.getAddress()).toBe(vectors.domain.verifyingContract);
      expect(f.chainId).toBe(BigInt(vectors.domain.chainId));
      for (const v of proofs) {
        expect(
          await f.channels.balanceProofDigest(v.channelId, v.proof.nonce, v.proof.transferred),
        ).toBe(v.digest);
      }
      for (const v of settlements) {
        expect(
          await f.channels.settlementDigest(
            v.channelId,
            v.settlement.payoutA,
            v.settlement.payoutB,
          ),
        ).toBe(v.digest);
      }
    });
  });
});
