/**
 * The typed-data job: any flat EIP-712 struct (the market's orders, cancels, deal answers),
 * whose signer is recovered, not checked against an expected one: the caller compares it with
 * the owner the message names. Strings travel as UTF-8 and are hashed in the worker. Layout of
 * its record body:
 *
 * | bytes       | field                                                |
 * | ----------- | ---------------------------------------------------- |
 * | 0..32       | EIP-712 domain separator                             |
 * | 32..r       | struct record of the message (see eip712.ts)         |
 * | r           | signature length (64 or 65; 0 for anything else)     |
 * | r+1..r+66   | signature bytes                                      |
 *
 * A worker answers a valid job with 52 bytes: the signer's address, then the digest.
 */
import type { Result } from "../errors.ts";
import type { Address } from "../types.ts";
import { cachedSeparator } from "./domain-cache.ts";
import {
  recordDigest,
  type StructType,
  structRecordSize,
  type TypedDomain,
  writeStructRecord,
} from "./eip712.ts";
import { JOB_INVALID, type JobKind, jobRejection, writeSignature } from "./job-kind.ts";
import { keccak256 } from "./keccak.ts";
import { parseSignatureInto } from "./signature.ts";
import { SIGNER_MISMATCH, type SignatureErrorCode } from "./verifier.ts";

/** A signed flat struct whose signer is to be recovered. */
export interface TypedDataJob {
  readonly domain: TypedDomain;
  readonly type: StructType;
  /** The field values by name: bigint or safe-integer numbers for uints, strings otherwise. */
  readonly message: object;
  /** 65 or 64 bytes. */
  readonly signature: Uint8Array;
}

/** Result of a typed-data job. */
export type TypedDataCheck = Result<TypedDataSigner, SignatureErrorCode>;

/** What a well-formed typed-data signature gives: the signer it recovers from the digest. */
export interface TypedDataSigner {
  /** Lowercase. */
  readonly signer: Address;
  /** The EIP-712 digest, lowercase 0x-hex. */
  readonly digest: `0x${string}`;
}

const SIG_BYTES = 66;

/** The typed-data job kind (tag 2). */
export const TYPED_DATA_JOB: JobKind<TypedDataJob, TypedDataCheck> = {
  tag: 2,
  outSize: 52,
  size: (job) => 32 + structRecordSize(job.type, job.message) + SIG_BYTES,
  encode(buf, o, job) {
    buf.set(cachedSeparator(job.domain), o);
    const end = writeStructRecord(buf, o + 32, job.type, job.message);
    return end < 0 ? -1 : writeSignature(buf, end, job.signature);
  },
  check(buf, o, end, ctx, out, outOff) {
    const { backend, digest, compact, hash } = ctx;
    const p = recordDigest(buf, o, buf, o + 32, end, digest);
    if (p < 0 || end - p !== SIG_BYTES) return JOB_INVALID;
    const recid = parseSignatureInto(buf, p + 1, buf[p]!, compact);
    if (recid < 0) return recid;
    const pub = backend.recover(compact, recid, digest, false);
    if (pub === null) return SIGNER_MISMATCH;
    keccak256(pub, hash, 0, 1, 65);
    out.set(hash.subarray(12), outOff);
    out.set(digest, outOff + 20);
    return 0;
  },
  result(_job, code, out, outOff) {
    if (code !== 0 || out === null) return jobRejection(code, "no public key recovers");
    const b = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    return {
      ok: true,
      value: {
        signer: `0x${b.toString("hex", outOff, outOff + 20)}`,
        digest: `0x${b.toString("hex", outOff + 20, outOff + 52)}`,
      },
    };
  },
};
