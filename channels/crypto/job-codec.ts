/**
 * The batches that carry verification jobs to the worker threads: one transferable buffer per
 * batch instead of one structured-clone object per job. Each job is a record:
 *
 * | bytes  | field                                                              |
 * | ------ | ------------------------------------------------------------------ |
 * | 0      | the kind's tag                                                     |
 * | 1..5   | body length (little-endian)                                        |
 * | 5..9   | where the worker writes the job's output in the batch's out buffer |
 * | 9..    | body, as the kind writes it                                        |
 *
 * The length lets a worker step over a record it cannot read, so one bad record fails alone.
 */
import { BALANCE_PROOF_JOB } from "./job-balance-proof.ts";
import { JOB_INVALID, type JobKind, type WorkerContext } from "./job-kind.ts";
import { TYPED_DATA_JOB } from "./job-typed-data.ts";

/** Every kind the pool runs; a new kind of job is one more entry here. */
export const JOB_KINDS: readonly JobKind<unknown, unknown>[] = [BALANCE_PROOF_JOB, TYPED_DATA_JOB];

/** Bytes of a record's header. */
export const RECORD_HEADER = 9;

const byTag: (JobKind<unknown, unknown> | undefined)[] = [];
for (const k of JOB_KINDS) {
  if (byTag[k.tag] !== undefined) throw new Error(`two job kinds share tag ${k.tag}`);
  byTag[k.tag] = k;
}

/** True when the workers know `kind` (it is one of JOB_KINDS). */
export function isKnownKind(kind: JobKind<unknown, unknown>): boolean {
  return byTag[kind.tag] === kind;
}

/** Bytes of `job`'s record, or -1 when its size cannot even be read (a job of another shape). */
export function recordSize<J>(kind: JobKind<J, unknown>, job: J): number {
  try {
    return RECORD_HEADER + kind.size(job);
  } catch {
    // Not a job of this kind at all; the caller refuses it like any job that cannot be encoded.
    return -1;
  }
}

/**
 * Writes `job` as a record at `buf[o]` (the buffer holds `recordSize(kind, job)` bytes from `o`).
 * @returns the record's end, or -1 when the job cannot be encoded (the bytes are then unused)
 */
export function writeRecord<J>(
  buf: Buffer,
  o: number,
  kind: JobKind<J, unknown>,
  job: J,
  outOff: number,
): number {
  let end: number;
  try {
    end = kind.encode(buf, o + RECORD_HEADER, job);
  } catch {
    // A malformed domain (bad chain id or contract) cannot be encoded either.
    return -1;
  }
  if (end < 0) return -1;
  buf[o] = kind.tag;
  buf.writeUInt32LE(end - o - RECORD_HEADER, o + 1);
  buf.writeUInt32LE(outOff, o + 5);
  return end;
}

/**
 * Checks the `count` records of a batch (in a worker): one code per record into `codes`, the
 * output of valid ones into `out`. A record of an unknown kind, or one that overruns the batch or
 * its output, gets `JOB_INVALID`.
 */
export function checkRecords(
  buf: Buffer,
  count: number,
  ctx: WorkerContext,
  codes: Int8Array,
  out: Uint8Array,
): void {
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (buf.length - o < RECORD_HEADER) {
      codes.fill(JOB_INVALID, i, count);
      return;
    }
    const kind = byTag[buf[o]!];
    const body = o + RECORD_HEADER;
    const end = body + buf.readUInt32LE(o + 1);
    if (end > buf.length) {
      codes.fill(JOB_INVALID, i, count);
      return;
    }
    const outOff = buf.readUInt32LE(o + 5);
    codes[i] =
      kind === undefined || outOff + kind.outSize > out.length
        ? JOB_INVALID
        : kind.check(buf, body, end, ctx, out, outOff);
    o = end;
  }
}
