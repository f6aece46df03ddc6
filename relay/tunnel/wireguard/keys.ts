/**
 * WireGuard keys (Curve25519) made with node:crypto, and key files written 0600 in a 0700
 * directory. Keys are base64 strings, as `wg` prints them; nothing here logs one.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A WireGuard key pair, base64. */
export interface WireGuardKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

function fromJwk(b64url: string | undefined): string {
  return Buffer.from(b64url ?? "", "base64url").toString("base64");
}

/** Makes a fresh key pair. */
export function generateWireGuardKeyPair(): WireGuardKeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  const jwk = privateKey.export({ format: "jwk" });
  return { privateKey: fromJwk(jwk.d), publicKey: fromJwk(jwk.x) };
}

/** The public key of a base64 private key (what `wg pubkey` prints). */
export function wireGuardPublicKey(privateKey: string): string {
  const d = Buffer.from(privateKey, "base64").toString("base64url");
  const priv = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d, x: "" }, format: "jwk" });
  return fromJwk(createPublicKey(priv).export({ format: "jwk" }).x);
}

/**
 * Writes a key to `<dir>/<name>` with mode 0600 (the directory is created 0700).
 * @returns the file's path
 */
export async function writeKeyFile(dir: string, name: string, key: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  // An existing file keeps its old mode through writeFile.
  await chmod(path, 0o600);
  return path;
}

/** Reads a key file written by `writeKeyFile`; null when absent. */
export async function readKeyFile(path: string): Promise<string | null> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
