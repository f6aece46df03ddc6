/**
 * Verifier worker: computes EIP-712 digests and recovers signers with native libsecp256k1,
 * off the HTTP event loop. Input: a batch of `[id, type, message, signature]`; output: a batch
 * of `[id, digestHex, signerAddress | null]` (null when the signature is malformed).
 */
import { parentPort, workerData } from "node:worker_threads";
import { keccak_256 } from "@noble/hashes/sha3.js";
import secp256k1 from "secp256k1";
import {
  type MarketDomain,
  type MarketTypeName,
  type TypedMessage,
  toHex,
  typedDigest,
} from "./typed-data.ts";

const domain = workerData as MarketDomain;
// secp256k1n / 2: signatures with a higher s are malleable copies and are refused (EIP-2).
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

type Job = [number, MarketTypeName, TypedMessage, string];

function recover(digest: Uint8Array, sigHex: string): string | null {
  if (typeof sigHex !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(sigHex)) return null;
  const sig = Buffer.from(sigHex.slice(2), "hex");
  const v = sig[64]!;
  const recid = v >= 27 ? v - 27 : v;
  if (recid !== 0 && recid !== 1) return null;
  if (BigInt(`0x${sig.subarray(32, 64).toString("hex")}`) > HALF_N) return null;
  try {
    const pub = secp256k1.ecdsaRecover(sig.subarray(0, 64), recid, digest, false);
    return toHex(keccak_256(pub.subarray(1)).subarray(12));
  } catch {
    // libsecp256k1 throws on an r or s that is not a valid scalar: an invalid signature.
    return null;
  }
}

parentPort!.on("message", (jobs: Job[]) => {
  const out: [number, string | null, string | null][] = [];
  for (const [id, type, msg, sig] of jobs) {
    let digest: Uint8Array;
    try {
      digest = typedDigest(domain, type, msg);
    } catch {
      // A value that does not fit its EIP-712 type: nothing to verify.
      out.push([id, null, null]);
      continue;
    }
    out.push([id, toHex(digest), recover(digest, sig)]);
  }
  parentPort!.postMessage(out);
});
