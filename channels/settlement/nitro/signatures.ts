/**
 * How nitro-protocol v2 signs: every signature is an Ethereum signed message over a 32-byte hash
 * (NitroUtils.recoverSigner prefixes "\x19Ethereum Signed Message:\n32" and calls ecrecover, as
 * go-nitro's `SignEthereumMessage` signs). A state is signed through its state hash; a
 * challenger also signs keccak256(abi.encode(stateHash, "forceMove")). Signatures are kept as
 * `r‖s‖v` bytes (what `ProofSigner` makes) and turned into the `{ v, r, s }` struct for calldata.
 */
import { AbiCoder } from "ethers";
import { keccak256 } from "../../crypto/keccak.ts";
import type { ProofSigner } from "../../crypto/signer.ts";
import type { ProofVerifier, SignatureCheck } from "../../crypto/verifier.ts";
import { reject } from "../../errors.ts";
import { bytesToHex, hexToBytes } from "../../hex.ts";
import type { Address } from "../../types.ts";
import { hashNitroState } from "./encoding.ts";
import type { FixedPart, NitroSignature, SignedVariablePart, VariablePart } from "./types.ts";

const PREFIX = Buffer.from("\x19Ethereum Signed Message:\n32", "latin1");
/** The prefix and the hash, reused: signing and checking are synchronous. */
const message = new Uint8Array(PREFIX.length + 32);
message.set(PREFIX, 0);

/**
 * keccak256("\x19Ethereum Signed Message:\n32" ‖ hash): the digest ecrecover sees.
 * @param hash - 32 bytes
 * @param out - where to write the digest (a new array when omitted)
 * @throws TypeError when `hash` is not 32 bytes.
 */
export function ethereumMessageDigest(
  hash: Uint8Array,
  out: Uint8Array = new Uint8Array(32),
): Uint8Array {
  if (hash.length !== 32) throw new TypeError("a message hash is 32 bytes");
  message.set(hash, PREFIX.length);
  return keccak256(message, out);
}

/**
 * The digest a participant signs for a state.
 * @throws TypeError when a field is outside its Solidity type.
 */
export function stateDigest(fixedPart: FixedPart, variablePart: VariablePart): Uint8Array {
  return ethereumMessageDigest(hexToBytes(hashNitroState(fixedPart, variablePart)));
}

/**
 * Signs a state; returns `r‖s‖v` (65 bytes, v 27/28, low s), deterministic.
 * @throws TypeError when a field is outside its Solidity type.
 * @example
 * const sig = signState(alice, fixedPart, variablePart);
 * await adjudicator.conclude(fixedPart, { variablePart, sigs: [toNitroSignature(sig), …] });
 */
export function signState(
  signer: ProofSigner,
  fixedPart: FixedPart,
  variablePart: VariablePart,
): Uint8Array {
  return signer.signDigest(stateDigest(fixedPart, variablePart));
}

/**
 * Checks a state signature against its expected signer, with the verifier's format rules (low
 * s, v 27/28), which are stricter than ecrecover's: a state the verifier accepts, the
 * adjudicator accepts.
 */
export function checkStateSignature(
  verifier: ProofVerifier,
  fixedPart: FixedPart,
  variablePart: VariablePart,
  signature: Uint8Array,
  expectedSigner: Address,
): SignatureCheck {
  let digest: Uint8Array;
  try {
    digest = stateDigest(fixedPart, variablePart);
  } catch (err) {
    return reject("VALUE_OUT_OF_RANGE", (err as Error).message);
  }
  return verifier.checkDigest(digest, signature, expectedSigner);
}

/**
 * The digest a challenger signs beside the challenged state (ForceMove's
 * `_requireChallengerIsParticipant`).
 * @throws TypeError when a field is outside its Solidity type.
 */
export function challengeDigest(fixedPart: FixedPart, variablePart: VariablePart): Uint8Array {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["bytes32", "string"],
    [hashNitroState(fixedPart, variablePart), "forceMove"],
  );
  return ethereumMessageDigest(keccak256(hexToBytes(encoded)));
}

/**
 * Signs the challenge of a state; returns `r‖s‖v`.
 * @throws TypeError when a field is outside its Solidity type.
 */
export function signChallenge(
  signer: ProofSigner,
  fixedPart: FixedPart,
  variablePart: VariablePart,
): Uint8Array {
  return signer.signDigest(challengeDigest(fixedPart, variablePart));
}

/**
 * The `{ v, r, s }` struct of a 65-byte `r‖s‖v` signature (or a 64-byte EIP-2098 one).
 * @throws TypeError when it is neither, or v is not 27/28.
 */
export function toNitroSignature(signature: Uint8Array): NitroSignature {
  if (signature.length === 64) {
    const yParity = signature[32]! >>> 7;
    const s = Uint8Array.from(signature.subarray(32, 64));
    s[0] = s[0]! & 0x7f;
    return { v: 27 + yParity, r: bytesToHex(signature.subarray(0, 32)), s: bytesToHex(s) };
  }
  if (signature.length !== 65) throw new TypeError("a signature is 65 or 64 bytes");
  const v = signature[64]!;
  if (v !== 27 && v !== 28) throw new TypeError(`signature v is ${v}, not 27 or 28`);
  return {
    v,
    r: bytesToHex(signature.subarray(0, 32)),
    s: bytesToHex(signature.subarray(32, 64)),
  };
}

/**
 * The `r‖s‖v` bytes of a signature struct.
 * @throws TypeError when r or s is not 32 bytes, or v is not 27/28.
 */
export function fromNitroSignature(sig: NitroSignature): Uint8Array {
  if (sig.v !== 27 && sig.v !== 28) throw new TypeError(`signature v is ${sig.v}, not 27 or 28`);
  const r = hexToBytes(sig.r);
  const s = hexToBytes(sig.s);
  if (r.length !== 32 || s.length !== 32) throw new TypeError("r and s are 32 bytes each");
  const out = new Uint8Array(65);
  out.set(r, 0);
  out.set(s, 32);
  out[64] = sig.v;
  return out;
}

/**
 * A variable part with its signatures, as `challenge`, `checkpoint` and `conclude` take it.
 * @throws TypeError when a signature is malformed.
 */
export function signedVariablePart(
  variablePart: VariablePart,
  signatures: readonly Uint8Array[],
): SignedVariablePart {
  return { variablePart, sigs: signatures.map(toNitroSignature) };
}
