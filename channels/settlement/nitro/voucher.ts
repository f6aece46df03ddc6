/**
 * VirtualPaymentApp's vouchers: the payer signs, as an Ethereum signed message,
 * keccak256(abi.encode(bytes32 channelId, uint256 amount)) (VirtualPaymentApp.requireValidVoucher,
 * go-nitro's `Voucher.Hash`). The payee redeems on chain with a turn-2 state whose appData is
 * abi.encode(VoucherAmountAndSignature { amount, Signature { v, r, s } }). Vouchers are on the
 * payment path, so the digest is computed in place, without an ABI coder.
 */
import { AbiCoder } from "ethers";
import { keccak256 } from "../../crypto/keccak.ts";
import type { ProofSigner } from "../../crypto/signer.ts";
import type { ProofVerifier, SignatureCheck } from "../../crypto/verifier.ts";
import { reject } from "../../errors.ts";
import type { Address, ChannelId } from "../../types.ts";
import { writeUint256BE } from "../../uint-bytes.ts";
import type { PaymentProof } from "../payment-proof.ts";
import { ethereumMessageDigest, fromNitroSignature, toNitroSignature } from "./signatures.ts";
import type { HexBytes, SignedVoucher, Voucher } from "./types.ts";

const UINT256_LIMIT = 1n << 256n;
const encoded = Buffer.alloc(64);
const hash = new Uint8Array(32);

/** ABI type of VirtualPaymentApp's `VoucherAmountAndSignature`. */
export const VOUCHER_APP_DATA_ABI =
  "tuple(uint256 amount, tuple(uint8 v, bytes32 r, bytes32 s) signature)";

/**
 * The digest the payer signs for a voucher.
 * @param out - where to write it (a new array when omitted)
 * @throws TypeError when the channel id is not 32 bytes of hex or the amount not a uint256.
 */
export function voucherDigest(voucher: Voucher, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  const { channelId, amount } = voucher;
  if (typeof channelId !== "string" || channelId.length !== 66) {
    throw new TypeError("a voucher's channel id is 32 bytes");
  }
  if (typeof amount !== "bigint" || amount < 0n || amount >= UINT256_LIMIT) {
    throw new TypeError("a voucher's amount is a uint256");
  }
  // Buffer.write stops at the first non-hex pair: a short write means a malformed id.
  if (encoded.write(channelId.slice(2), 0, 32, "hex") !== 32) {
    throw new TypeError("a voucher's channel id is 32 bytes of hex");
  }
  writeUint256BE(encoded, 32, amount);
  keccak256(encoded, hash);
  return ethereumMessageDigest(hash, out);
}

/**
 * Signs a voucher as the payer.
 * @throws TypeError when a field is outside its Solidity type.
 * @example
 * const signed = signVoucher(requester, { channelId, amount: 1_000n });
 */
export function signVoucher(payer: ProofSigner, voucher: Voucher): SignedVoucher {
  return { voucher, signature: payer.signDigest(voucherDigest(voucher)) };
}

/**
 * Checks a voucher's signature against the payer (the virtual channel's participants[0]), with
 * the verifier's format rules (v 27/28, low s): a voucher it accepts, the app accepts.
 */
export function checkVoucher(
  verifier: ProofVerifier,
  signed: SignedVoucher,
  payer: Address,
): SignatureCheck {
  let digest: Uint8Array;
  try {
    digest = voucherDigest(signed.voucher);
  } catch (err) {
    return reject("VALUE_OUT_OF_RANGE", (err as Error).message);
  }
  return verifier.checkDigest(digest, signed.signature, payer);
}

/**
 * A voucher as a payment proof: cumulative, so its amount is both its ordering key and what it
 * has transferred (see `ProofPosition`).
 */
export function voucherProof(voucher: Voucher): PaymentProof {
  return { channelId: voucher.channelId, nonce: voucher.amount, transferred: voucher.amount };
}

/**
 * The appData of a redemption state (turn 2): abi.encode(VoucherAmountAndSignature).
 * @throws TypeError when the amount is not a uint256 or the signature is malformed.
 */
export function encodeVoucherAppData(signed: SignedVoucher): HexBytes {
  const { amount } = signed.voucher;
  if (typeof amount !== "bigint" || amount < 0n || amount >= UINT256_LIMIT) {
    throw new TypeError("a voucher's amount is a uint256");
  }
  const sig = toNitroSignature(signed.signature);
  return AbiCoder.defaultAbiCoder().encode(
    [VOUCHER_APP_DATA_ABI],
    [[amount, [sig.v, sig.r, sig.s]]],
  ) as HexBytes;
}

/**
 * The voucher a redemption state's appData carries for `channelId`, or `undefined` when the
 * appData is not one (128 bytes: amount, v, r, s).
 */
export function decodeVoucherAppData(
  channelId: ChannelId,
  appData: HexBytes,
): SignedVoucher | undefined {
  if (!/^0x[0-9a-fA-F]{256}$/.test(appData)) return undefined;
  const word = (i: number) => `0x${appData.slice(2 + 64 * i, 66 + 64 * i).toLowerCase()}` as const;
  const v = BigInt(word(1));
  if (v !== 27n && v !== 28n) return undefined;
  const signature = fromNitroSignature({ v: Number(v), r: word(2), s: word(3) });
  return { voucher: { channelId, amount: BigInt(word(0)) }, signature };
}
