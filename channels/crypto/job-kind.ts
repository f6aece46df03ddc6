/**
 * What the verifier pool asks of a kind of job (a balance proof, market typed data, and later a
 * voucher): how the main thread writes a job into the batch buffer, how a worker checks it, and
 * how the worker's answer becomes the job's result. The pool and the worker know nothing else of
 * a kind, so a new kind is one `JobKind` in job-codec.ts's list, not a new pool.
 */
import { type Rejection, reject } from "../errors.ts";
import type { Secp256k1Backend } from "./backend.ts";
import { signatureErrorCode } from "./signature.ts";
import { SIGNER_MISMATCH, type SignatureErrorCode, type VerifyMode } from "./verifier.ts";

/**
 * Result code of a job whose fields do not fit their types (found by the main thread), or whose
 * record does not read as its kind (found by a worker). Other codes: 0 valid, `SIGNER_MISMATCH`,
 * or a negative `SIG_ERR_*` of signature.ts.
 */
export const JOB_INVALID = -6;

/** What a worker thread keeps between jobs: its backend, its key cache, scratch buffers. */
export interface WorkerContext {
  readonly backend: Secp256k1Backend;
  /** Public keys by lowercase address ("cached-key"), or null ("recover"). */
  readonly keys: Map<string, Uint8Array> | null;
  /** 32 bytes: the digest of the job at hand. */
  readonly digest: Uint8Array;
  /** 64 bytes: its signature in compact form. */
  readonly compact: Uint8Array;
  /** 32 bytes: any other hash. */
  readonly hash: Uint8Array;
}

/** A worker's context for a backend and a verification strategy. */
export function workerContext(backend: Secp256k1Backend, mode: VerifyMode): WorkerContext {
  return {
    backend,
    keys: mode === "cached-key" ? new Map() : null,
    digest: new Uint8Array(32),
    compact: new Uint8Array(64),
    hash: new Uint8Array(32),
  };
}

/**
 * A kind of verification job, `J` in, `R` out.
 * - Main thread: `size`, then `encode` into the batch buffer; `result` once the worker answered.
 * - Worker: `check`.
 */
export interface JobKind<J, R> {
  /** The tag byte of this kind's records, unique among the kinds. */
  readonly tag: number;
  /** Bytes a worker writes back per valid job (0 when the code says it all). */
  readonly outSize: number;
  /** Upper bound on the bytes `encode` writes for `job`. */
  size(job: J): number;
  /**
   * Writes `job` at `buf[o]`.
   * @returns the end of what it wrote, or -1 when a field does not fit its type
   * @throws TypeError for a malformed domain (the pool treats it as -1)
   */
  encode(buf: Buffer, o: number, job: J): number;
  /**
   * Checks the job at `buf[o, end)` (in a worker); when valid, writes `outSize` bytes at
   * `out[outOff]`.
   * @returns 0 when valid, else a negative code (`JOB_INVALID` when the bytes do not read as this
   *   kind)
   */
  check(
    buf: Buffer,
    o: number,
    end: number,
    ctx: WorkerContext,
    out: Uint8Array,
    outOff: number,
  ): number;
  /** The job's result from its code and, when the code is 0, the worker's `outSize` bytes. */
  result(job: J, code: number, out: Uint8Array | null, outOff: number): R;
}

/** The rejection of a nonzero job code; `mismatch` says what SIGNER_MISMATCH means here. */
export function jobRejection(code: number, mismatch: string): Rejection<SignatureErrorCode> {
  if (code === SIGNER_MISMATCH) return reject("SIGNER_MISMATCH", mismatch);
  if (code === JOB_INVALID) return reject("VALUE_OUT_OF_RANGE", "a field does not fit its type");
  return reject(signatureErrorCode(code), "malformed signature");
}

/**
 * Writes a signature's length byte at `buf[o]` and its bytes after it: 64 or 65 bytes as given,
 * anything else as length 0 (which the worker rejects with SIGNATURE_LENGTH).
 * @returns the end of the 65 bytes reserved for it
 */
export function writeSignature(buf: Buffer, o: number, signature: Uint8Array): number {
  const len = signature instanceof Uint8Array ? signature.length : 0;
  if (len === 64 || len === 65) {
    buf[o] = len;
    buf.set(signature, o + 1);
  } else {
    buf[o] = 0;
  }
  return o + 66;
}
