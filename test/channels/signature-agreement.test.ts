/**
 * Every verification path accepts and rejects exactly the same signatures, with the same codes:
 * backends native libsecp256k1, its elliptic twin and @noble/curves; strategies "recover" and
 * "cached-key"; synchronous verifier and worker pool. ethers is the oracle for valid signatures.
 */

import { Signature as EthersSignature, recoverAddress, TypedDataEncoder } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackendName } from "../../channels/crypto/backend.ts";
import { balanceProofDigest, eip712Domain } from "../../channels/crypto/eip712.ts";
import { availableBackends, loadBackend } from "../../channels/crypto/load-backend.ts";
import {
  parseSignature,
  SECP256K1_N,
  toCompactSignature,
  toFullSignature,
} from "../../channels/crypto/signature.ts";
import { createSigner } from "../../channels/crypto/signer.ts";
import { ProofVerifier, type VerifyMode } from "../../channels/crypto/verifier.ts";
import { VerifyPool } from "../../channels/crypto/verify-pool.ts";
import type { BalanceProof } from "../../channels/types.ts";
import { alice, channelIdOf, domain, keyOf, mallory } from "./helpers.ts";

const backends: BackendName[] = ["native", "noble", "elliptic"];
const modes: VerifyMode[] = ["recover", "cached-key"];

/** One verifier per (backend, mode); cached-key ones are warmed so the cache path is exercised. */
const verifiers = backends.flatMap((b) =>
  modes.map((mode) => ({
    name: `${b}/${mode}`,
    v: new ProofVerifier({ backend: loadBackend(b), mode }),
  })),
);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const N = SECP256K1_N;

function withS(sig: Uint8Array, s: bigint, v?: number): Uint8Array {
  const out = Uint8Array.from(sig);
  out.set(Buffer.from(s.toString(16).padStart(64, "0"), "hex"), 32);
  if (v !== undefined) out[64] = v;
  return out;
}

/** Variants of a valid signature by alice over `proof`, each a different acceptance case. */
function variants(proof: BalanceProof): { name: string; sig: Uint8Array }[] {
  const sig = alice.signBalanceProof(domain, proof);
  const s = BigInt(`0x${hex(sig.subarray(32, 64))}`);
  const flipV = Uint8Array.from(sig);
  flipV[64] = sig[64] === 27 ? 28 : 27;
  const v01 = Uint8Array.from(sig);
  v01[64] = sig[64]! - 27;
  const rZero = Uint8Array.from(sig);
  rZero.fill(0, 0, 32);
  const rN = Uint8Array.from(sig);
  rN.set(Buffer.from(N.toString(16), "hex"), 0);
  const rFlip = Uint8Array.from(sig);
  rFlip[5] = rFlip[5]! ^ 1;
  const compactFlip = toCompactSignature(sig);
  compactFlip[32] = compactFlip[32]! ^ 0x80;
  return [
    { name: "valid 65", sig },
    { name: "valid 64 (EIP-2098)", sig: toCompactSignature(sig) },
    { name: "wrong v", sig: flipV },
    { name: "v 0/1", sig: v01 },
    { name: "v 29", sig: withS(sig, s, 29) },
    { name: "high s (twin, v flipped)", sig: withS(sig, N - s, sig[64] === 27 ? 28 : 27) },
    { name: "high s (v kept)", sig: withS(sig, N - s) },
    { name: "high s 64", sig: toCompactSignature(withS(sig, N - s, sig[64] === 27 ? 28 : 27)) },
    { name: "s zero", sig: withS(sig, 0n) },
    { name: "64 with s = n/2 + 1", sig: toCompactSignature(withS(sig, (N >> 1n) + 1n)) },
    { name: "s = n/2 + 1", sig: withS(sig, (N >> 1n) + 1n) },
    { name: "r zero", sig: rZero },
    { name: "r = n", sig: rN },
    { name: "r tweaked", sig: rFlip },
    { name: "64 with parity flipped", sig: compactFlip },
    { name: "wrong signer", sig: mallory.signBalanceProof(domain, proof) },
    { name: "empty", sig: new Uint8Array(0) },
    { name: "66 bytes", sig: Uint8Array.from([...sig, 0]) },
  ];
}

let pools: { name: string; pool: VerifyPool }[] = [];

beforeAll(async () => {
  pools = [
    {
      name: "pool native/cached-key",
      pool: await VerifyPool.create({ threads: 2, backend: "native" }),
    },
    {
      name: "pool noble/recover",
      pool: await VerifyPool.create({ threads: 1, backend: "noble", mode: "recover" }),
    },
  ];
  // Warm the caches with one valid proof so that later checks take the cached-key path.
  const proof = { channelId: channelIdOf(1), nonce: 1n, transferred: 1n };
  const sig = alice.signBalanceProof(domain, proof);
  for (const { v } of verifiers)
    expect(v.verifyBalanceProof(domain, proof, sig, alice.address).ok).toBe(true);
  for (const { pool } of pools) {
    const jobs = Array.from({ length: 4 }, () => ({
      domain,
      proof,
      signature: sig,
      expectedSigner: alice.address,
    }));
    for (const r of await pool.verifyMany(jobs)) expect(r.ok).toBe(true);
  }
});

afterAll(async () => {
  for (const { pool } of pools) await pool.close();
});

describe("signature agreement across implementations", () => {
  it("all three backends load here (native binding included); auto picks native", () => {
    expect(availableBackends()).toEqual(["native", "noble", "elliptic"]);
    expect(loadBackend().name).toBe("native");
  });

  it("TOLLWAY_SECP256K1 forces the pure-JS fallback for 'auto'", () => {
    const before = process.env.TOLLWAY_SECP256K1;
    process.env.TOLLWAY_SECP256K1 = "noble";
    try {
      expect(loadBackend().name).toBe("noble");
      expect(loadBackend("native").name).toBe("native");
    } finally {
      if (before === undefined) delete process.env.TOLLWAY_SECP256K1;
      else process.env.TOLLWAY_SECP256K1 = before;
    }
  });

  it("every path gives the same verdict and code on every variant (table)", async () => {
    const proof = { channelId: channelIdOf(7), nonce: 3n, transferred: 10n ** 18n };
    const expected: Record<string, string> = {
      "valid 65": "ok",
      "valid 64 (EIP-2098)": "ok",
      "wrong v": "SIGNER_MISMATCH",
      "v 0/1": "SIGNATURE_BAD_V",
      "v 29": "SIGNATURE_BAD_V",
      "high s (twin, v flipped)": "SIGNATURE_HIGH_S",
      "high s (v kept)": "SIGNATURE_HIGH_S",
      // EIP-2098 keeps the parity in s's top bit, so a high s (top bit set) cannot be expressed:
      // the contract reads a different low s and recovers someone else.
      "high s 64": "SIGNER_MISMATCH",
      "s zero": "SIGNATURE_RANGE",
      "64 with s = n/2 + 1": "SIGNATURE_HIGH_S",
      "s = n/2 + 1": "SIGNATURE_HIGH_S",
      "r zero": "SIGNATURE_RANGE",
      "r = n": "SIGNATURE_RANGE",
      "r tweaked": "SIGNER_MISMATCH",
      "64 with parity flipped": "SIGNER_MISMATCH",
      "wrong signer": "SIGNER_MISMATCH",
      empty: "SIGNATURE_LENGTH",
      "66 bytes": "SIGNATURE_LENGTH",
    };
    for (const { name, sig } of variants(proof)) {
      const got: Record<string, string> = {};
      for (const { name: path, v } of verifiers) {
        const r = v.verifyBalanceProof(domain, proof, sig, alice.address);
        got[path] = r.ok ? "ok" : r.code;
      }
      for (const { name: path, pool } of pools) {
        const r = await pool.verify({
          domain,
          proof,
          signature: sig,
          expectedSigner: alice.address,
        });
        got[path] = r.ok ? "ok" : r.code;
      }
      for (const [path, verdict] of Object.entries(got)) {
        expect({ variant: name, path, verdict }).toEqual({
          variant: name,
          path,
          verdict: expected[name],
        });
      }
    }
  });

  it("property: random proofs and keys, random variant — all paths agree, ethers agrees on the signer", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        fc.integer({ min: 0, max: 17 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        async (nonce, transferred, variantIndex, channel) => {
          const proof = { channelId: channelIdOf(channel), nonce, transferred };
          const { name, sig } = variants(proof)[variantIndex]!;
          const verdicts = new Set<string>();
          for (const { v } of verifiers) {
            const r = v.verifyBalanceProof(domain, proof, sig, alice.address);
            verdicts.add(r.ok ? "ok" : r.code);
          }
          for (const { pool } of pools) {
            const r = await pool.verify({
              domain,
              proof,
              signature: sig,
              expectedSigner: alice.address,
            });
            verdicts.add(r.ok ? "ok" : r.code);
          }
          expect({ name, verdicts: [...verdicts] }).toMatchObject({ name });
          expect(verdicts.size).toBe(1);
          if (verdicts.has("ok")) {
            // ethers (the reference EIP-712 + ecrecover) recovers the same signer.
            const digest = TypedDataEncoder.hash(
              {
                name: "tollway",
                version: "1",
                chainId: domain.chainId,
                verifyingContract: domain.verifyingContract,
              },
              {
                BalanceProof: [
                  { name: "channelId", type: "bytes32" },
                  { name: "nonce", type: "uint64" },
                  { name: "transferred", type: "uint256" },
                ],
              },
              proof,
            );
            expect(digest).toBe(`0x${hex(balanceProofDigest(eip712Domain(domain), proof))}`);
            const full = sig.length === 64 ? toFullSignature(sig) : sig;
            expect(
              recoverAddress(digest, EthersSignature.from(`0x${hex(full)}`)).toLowerCase(),
            ).toBe(alice.address);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("signatures of every backend are identical (RFC 6979) and low-s", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 1, max: 1000 }),
        (seed, n) => {
          const key = keyOf(`k${hex(seed)}`);
          const proof = {
            channelId: channelIdOf(n),
            nonce: BigInt(n),
            transferred: BigInt(n) * 7n,
          };
          const sigs = backends.map((b) =>
            hex(createSigner(key, loadBackend(b)).signBalanceProof(domain, proof)),
          );
          expect(new Set(sigs).size).toBe(1);
          const parsed = parseSignature(Buffer.from(sigs[0]!, "hex"));
          expect(parsed.ok).toBe(true);
        },
      ),
      { numRuns: 15 },
    );
  });

  it("recoverAddress follows ecrecover and compact/full conversions round-trip", () => {
    const proof = { channelId: channelIdOf(3), nonce: 9n, transferred: 5n };
    const sig = alice.signBalanceProof(domain, proof);
    const digest = balanceProofDigest(eip712Domain(domain), proof);
    for (const b of backends) {
      const r = new ProofVerifier({ backend: loadBackend(b) }).recoverAddress(digest, sig);
      expect(r).toEqual({ ok: true, value: alice.address });
    }
    expect(hex(toFullSignature(toCompactSignature(sig)))).toBe(hex(sig));
  });
});
