/** The pure-JS backend: @noble/curves, the implementation under ethers v6. The fallback. */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { Secp256k1Backend } from "./backend.ts";

const Signature = secp256k1.Signature;

/** Builds the @noble/curves backend (always available). */
export function nobleBackend(): Secp256k1Backend {
  return {
    name: "noble",
    sign(digest, privateKey) {
      const rec = secp256k1.sign(digest, privateKey, { prehash: false, format: "recovered" });
      return { compact: rec.slice(1), recid: rec[0]! };
    },
    recover(compact, recid, digest, compressed) {
      try {
        const point = Signature.fromBytes(compact, "compact")
          .addRecoveryBit(recid)
          .recoverPublicKey(digest);
        return point.toBytes(compressed);
      } catch {
        // No curve point for this r and parity: not a signature by anyone.
        return null;
      }
    },
    verify(compact, digest, publicKey) {
      try {
        return secp256k1.verify(compact, digest, publicKey, { prehash: false, lowS: true });
      } catch {
        // Malformed public key: not a valid signature by it.
        return false;
      }
    },
    publicKey(privateKey, compressed) {
      return secp256k1.getPublicKey(privateKey, compressed);
    },
  };
}
