import { getBytes, hexlify } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import {
  decodeExit,
  decodeGuarantee,
  encodeExit,
  encodeGuarantee,
  hashExit,
  hashNitroState,
  nitroChannelId,
  packNitroStatus,
  statusFingerprint,
  unpackNitroStatus,
} from "../../channels/settlement/nitro/encoding.ts";
import {
  checkStateSignature,
  signChallenge,
  signedVariablePart,
  signState,
} from "../../channels/settlement/nitro/signatures.ts";
import type {
  Exit,
  FixedPart,
  HexBytes,
  VariablePart,
} from "../../channels/settlement/nitro/types.ts";
import {
  checkVoucher,
  decodeVoucherAppData,
  encodeVoucherAppData,
  signVoucher,
} from "../../channels/settlement/nitro/voucher.ts";
import { type Address, asChannelId } from "../../channels/types.ts";
import { type NitroFixture, nitroFixture } from "../channels/settlement/nitro/fixture.ts";
import vectors from "./nitro.json" with { type: "json" };

/** A state vector as the generator writes it (amounts and the nonce as decimal strings). */
interface StateVector {
  readonly fixedPart: {
    readonly participants: string[];
    readonly channelNonce: string;
    readonly appDefinition: string;
    readonly challengeDuration: number;
  };
  readonly variablePart: {
    readonly outcome: {
      readonly asset: string;
      readonly assetMetadata: { readonly assetType: number; readonly metadata: string };
      readonly allocations: {
        readonly destination: string;
        readonly amount: string;
        readonly allocationType: number;
        readonly metadata: string;
      }[];
    }[];
    readonly appData: string;
    readonly turnNum: number;
    readonly isFinal: boolean;
  };
  readonly channelId: string;
  readonly stateHash: string;
  readonly encodedOutcome: string;
  readonly outcomeHash: string;
  readonly signatures: { readonly signer: string; readonly signature: string }[];
  readonly challenger: string;
  readonly challengeSignature: string;
  readonly finalizesAt: number;
  readonly status: string;
}

const signers = new Map(
  vectors.signers.map((s) => [s.address, createSigner(getBytes(s.privateKey))] as const),
);
const states = (vectors.states as unknown as StateVector[]).map((v) => {
  const fixedPart: FixedPart = {
    participants: v.fixedPart.participants as Address[],
    channelNonce: BigInt(v.fixedPart.channelNonce),
    appDefinition: v.fixedPart.appDefinition as Address,
    challengeDuration: v.fixedPart.challengeDuration,
  };
  const outcome: Exit = v.variablePart.outcome.map((e) => ({
    asset: e.asset as Address,
    assetMetadata: {
      assetType: e.assetMetadata.assetType,
      metadata: e.assetMetadata.metadata as HexBytes,
    },
    allocations: e.allocations.map((a) => ({
      destination: a.destination as `0x${string}`,
      amount: BigInt(a.amount),
      allocationType: a.allocationType,
      metadata: a.metadata as HexBytes,
    })),
  }));
  const variablePart: VariablePart = {
    outcome,
    appData: v.variablePart.appData as HexBytes,
    turnNum: v.variablePart.turnNum,
    isFinal: v.variablePart.isFinal,
  };
  return { ...v, fixedPart, variablePart };
});
const vouchers = vectors.vouchers.map((v) => ({
  ...v,
  voucher: { channelId: asChannelId(v.channelId), amount: BigInt(v.amount) },
}));

describe("Nitro vectors: channels/ and nitro-protocol's own helpers agree byte for byte", () => {
  it("derives every channel id, state hash, encoded outcome and outcome hash in the file", () => {
    for (const v of states) {
      expect(nitroChannelId(v.fixedPart)).toBe(v.channelId);
      expect(hashNitroState(v.fixedPart, v.variablePart)).toBe(v.stateHash);
      expect(encodeExit(v.variablePart.outcome)).toBe(v.encodedOutcome);
      expect(hashExit(v.variablePart.outcome)).toBe(v.outcomeHash);
      // Addresses come back lowercase, as tollway compares them.
      expect(decodeExit(v.encodedOutcome as HexBytes)).toEqual(
        v.variablePart.outcome.map((e) => ({ ...e, asset: e.asset.toLowerCase() })),
      );
    }
  });

  it("signs every state and challenge as the package does, and the signatures check", () => {
    const verifier = new ProofVerifier();
    for (const v of states) {
      for (const s of v.signatures) {
        const sig = signState(signers.get(s.signer)!, v.fixedPart, v.variablePart);
        expect(hexlify(sig)).toBe(s.signature);
        const check = checkStateSignature(
          verifier,
          v.fixedPart,
          v.variablePart,
          getBytes(s.signature),
          s.signer as Address,
        );
        expect(check.ok).toBe(true);
      }
      expect(hexlify(signChallenge(signers.get(v.challenger)!, v.fixedPart, v.variablePart))).toBe(
        v.challengeSignature,
      );
    }
  });

  it("packs every status word from the state and outcome hashes", () => {
    for (const v of states) {
      const status = {
        turnNumRecord: v.variablePart.turnNum,
        finalizesAt: v.finalizesAt,
        fingerprint: statusFingerprint(
          v.stateHash as `0x${string}`,
          v.outcomeHash as `0x${string}`,
        ),
      };
      expect(packNitroStatus(status)).toBe(v.status);
      expect(unpackNitroStatus(v.status as `0x${string}`)).toEqual(status);
    }
  });

  it("signs every voucher as the package does, and encodes its redemption appData", () => {
    const payer = signers.get(vectors.signers[0]!.address)!;
    const verifier = new ProofVerifier();
    for (const v of vouchers) {
      const signed = signVoucher(payer, v.voucher);
      expect(hexlify(signed.signature)).toBe(v.signature);
      expect(checkVoucher(verifier, signed, payer.address)).toMatchObject({ ok: true });
      expect(encodeVoucherAppData(signed)).toBe(v.appData);
      expect(decodeVoucherAppData(v.voucher.channelId, v.appData as HexBytes)).toEqual(signed);
    }
  });

  it("encodes the guarantee metadata as the package does", () => {
    const g = vectors.guarantee;
    const metadata = encodeGuarantee({
      left: g.left as `0x${string}`,
      right: g.right as `0x${string}`,
    });
    expect(metadata).toBe(g.metadata);
    expect(decodeGuarantee(metadata)).toEqual({ left: g.left, right: g.right });
  });

  describe("on chain", () => {
    let f: NitroFixture;
    beforeAll(async () => {
      f = await nitroFixture();
    });
    afterAll(() => f.connection.close());

    it("deploys the apps at the vectors' addresses, and the adjudicator supports every state the app allows", async () => {
      expect(f.nitro.consensusApp).toBe(vectors.consensusApp);
      expect(f.nitro.virtualPaymentApp).toBe(vectors.virtualPaymentApp);
      for (const v of states) {
        const candidate = signedVariablePart(
          v.variablePart,
          v.signatures.map((s) => getBytes(s.signature)),
        );
        const call = f.adjudicator
          .getFunction("stateIsSupported")
          .staticCall(v.fixedPart, [], candidate)
          .then((r: { toArray(): unknown[] }) => r.toArray());
        // Under VirtualPaymentApp a fully signed state is supported only as prefund or postfund.
        const allowed =
          v.fixedPart.appDefinition === vectors.consensusApp || v.variablePart.turnNum <= 1;
        if (allowed) expect(await call).toEqual([true, ""]);
        else await expect(call).rejects.toBeDefined();
      }
    });
  });
});
