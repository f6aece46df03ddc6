/**
 * Worker thread of `VerifyPool`: checks a batch of job records, each by its kind (job-codec.ts),
 * and posts back one result code per job (0 valid, else a negative code) and the output of the
 * kinds that have one. Each worker keeps its own cache of participants' public keys.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { BackendName } from "./backend.ts";
import { checkRecords } from "./job-codec.ts";
import { workerContext } from "./job-kind.ts";
import { loadBackend } from "./load-backend.ts";
import type { VerifyMode } from "./verifier.ts";

interface WorkerConfig {
  readonly backend: BackendName | "auto";
  readonly mode: VerifyMode;
}

/** A batch sent to a worker. */
export interface WorkerRequest {
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly count: number;
  /** Bytes of output the batch's kinds write (0 for balance proofs only). */
  readonly outSize: number;
}

/** A worker's answer: one code per job, in order, and the output buffer (or null). */
export interface WorkerResponse {
  readonly id: number;
  readonly codes: Int8Array;
  readonly out: Uint8Array | null;
}

const config = workerData as WorkerConfig;
const ctx = workerContext(loadBackend(config.backend), config.mode);
const NO_OUT = new Uint8Array(0);

parentPort!.on("message", (req: WorkerRequest) => {
  const codes = new Int8Array(req.count);
  const out = req.outSize > 0 ? new Uint8Array(req.outSize) : null;
  checkRecords(Buffer.from(req.buf), req.count, ctx, codes, out ?? NO_OUT);
  const res: WorkerResponse = { id: req.id, codes, out };
  parentPort!.postMessage(res, out === null ? [codes.buffer] : [codes.buffer, out.buffer]);
});
parentPort!.postMessage({ ready: true, backend: ctx.backend.name });
