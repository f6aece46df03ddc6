/**
 * Backends over the `secp256k1` npm package: its native libsecp256k1 N-API binding, and its
 * pure-JS twin built on elliptic (same API, kept as a measured alternative).
 */
import { createRequire } from "node:module";
import type { BackendName, Secp256k1Backend } from "./backend.ts";

interface LibSecp256k1 {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array;
}

const require = createRequire(import.meta.url);

/**
 * Loads the native libsecp256k1 binding (`secp256k1/bindings`) or the elliptic twin.
 * @throws Error from the loader when the native addon cannot load on this platform.
 */
export function libsecpBackend(name: "native" | "elliptic"): Secp256k1Backend {
  const lib = require(
    name === "native" ? "secp256k1/bindings" : "secp256k1/elliptic",
  ) as LibSecp256k1;
  return wrap(name, lib);
}

function wrap(name: BackendName, lib: LibSecp256k1): Secp256k1Backend {
  return {
    name,
    sign(digest, privateKey) {
      const { signature, recid } = lib.ecdsaSign(digest, privateKey);
      return { compact: signature, recid };
    },
    recover(compact, recid, digest, compressed) {
      try {
        return lib.ecdsaRecover(compact, recid, digest, compressed);
      } catch {
        // The binding throws when no point has this x / the key would be infinity: not a signer.
        return null;
      }
    },
    verify(compact, digest, publicKey) {
      try {
        return lib.ecdsaVerify(compact, digest, publicKey);
      } catch {
        // Unparseable signature or public key: not a valid signature by this key.
        return false;
      }
    },
    publicKey(privateKey, compressed) {
      return lib.publicKeyCreate(privateKey, compressed);
    },
  };
}
