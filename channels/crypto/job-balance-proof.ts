/**
 * The balance-proof job: a proof checked against the partner who must have signed it, with the
 * worker's cache of participants' keys (the provider's hot path). Layout of its record body:
 *
 * | bytes    | field                                                   |
 * | -------- | ------------------------------------------------------- |
 * | 0..32    | EIP-712 domain separator                                |
 * | 32..162  | struct record of the BalanceProof (see eip712.ts); the  |
 * |          | worker writes its first 34 bytes, the header it knows   |
 * | 162      | signature length (64 or 65; 0 for anything else)        |
 * | 163..228 | signature bytes                                         |
 * | 228..248 | expected signer address                                 |
 */
import type { Address, BalanceProof, ChannelDomain } from "../types.ts";
import { cachedDomain } from "./domain-cache.ts";
import {
  BALANCE_PROOF,
  type Eip712Domain,
  recordDigest,
  writeBalanceProofWords,
  writeStructHeader,
} from "./eip712.ts";
import { JOB_INVALID, type JobKind, jobRejection, writeSignature } from "./job-kind.ts";
import { SIG_ERR_LENGTH } from "./signature.ts";
import { checkSignature, type SignatureCheck } from "./verifier.ts";

/** One balance proof to verify against its expected sender. */
export interface VerifyJob {
  readonly domain: ChannelDomain | Eip712Domain;
  readonly proof: BalanceProof;
  /** 65 or 64 bytes, as received. */
  readonly signature: Uint8Array;
  /** The partner who must have signed it. */
  readonly expectedSigner: Address;
}

const RECORD_END = 162;
const SIGNER = 228;
const BODY = 248;
const HEX40 = /^0x[0-9a-fA-F]{40}$/;

/** The balance-proof job kind (tag 1). */
export const BALANCE_PROOF_JOB: JobKind<VerifyJob, SignatureCheck> = {
  tag: 1,
  outSize: 0,
  size: () => BODY,
  encode(buf, o, job) {
    const { expectedSigner } = job;
    if (typeof expectedSigner !== "string" || !HEX40.test(expectedSigner)) return -1;
    buf.set(cachedDomain(job.domain).separator, o);
    if (!writeBalanceProofWords(buf, o + 66, job.proof)) return -1;
    writeSignature(buf, o + RECORD_END, job.signature);
    buf.write(expectedSigner.slice(2), o + SIGNER, "hex");
    return o + BODY;
  },
  check(buf, o, end, ctx) {
    if (end - o !== BODY) return JOB_INVALID;
    // The type is this kind's, so its header is written here rather than on the event loop.
    writeStructHeader(buf, o + 32, BALANCE_PROOF);
    recordDigest(buf, o, buf, o + 32, o + RECORD_END, ctx.digest);
    const len = buf[o + RECORD_END]!;
    if (len !== 64 && len !== 65) return SIG_ERR_LENGTH;
    const expected = `0x${buf.toString("hex", o + SIGNER, o + BODY)}`;
    const { backend, digest, keys, compact } = ctx;
    return checkSignature(backend, digest, buf, o + RECORD_END + 1, len, expected, keys, compact);
  },
  result(job, code) {
    return code === 0
      ? { ok: true, value: job.expectedSigner.toLowerCase() as Address }
      : jobRejection(code, `signature is not by ${job.expectedSigner}`);
  },
};
