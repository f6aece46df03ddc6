/**
 * Worker thread of `VerifyPool`: decodes a batch of job records, computes each digest and checks
 * each signature, and posts back one result code per job (0 valid, else a negative code of
 * `checkSignature`). Each worker keeps its own cache of participants' public keys.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { BackendName } from "./backend.ts";
import { JOB_SIZE, jobDigest } from "./job-codec.ts";
import { loadBackend } from "./load-backend.ts";
import { SIG_ERR_LENGTH } from "./signature.ts";
import { checkSignature, type VerifyMode } from "./verifier.ts";

interface WorkerConfig {
  readonly backend: BackendName | "auto";
  readonly mode: VerifyMode;
}

/** A batch sent to a worker. */
export interface WorkerRequest {
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly count: number;
}

/** A worker's answer: one code per job, in order. */
export interface WorkerResponse {
  readonly id: number;
  readonly codes: Int8Array;
}

const config = workerData as WorkerConfig;
const backend = loadBackend(config.backend);
const keys = config.mode === "cached-key" ? new Map<string, Uint8Array>() : null;
const digest = new Uint8Array(32);
const compact = new Uint8Array(64);

parentPort!.on("message", (req: WorkerRequest) => {
  const buf = Buffer.from(req.buf);
  const codes = new Int8Array(req.count);
  for (let i = 0; i < req.count; i++) {
    const o = i * JOB_SIZE;
    const len = buf[o + 128]!;
    if (len !== 64 && len !== 65) {
      codes[i] = SIG_ERR_LENGTH;
      continue;
    }
    jobDigest(buf, i, digest);
    const expected = `0x${buf.toString("hex", o + 194, o + 214)}`;
    codes[i] = checkSignature(backend, digest, buf, o + 129, len, expected, keys, compact);
  }
  const res: WorkerResponse = { id: req.id, codes };
  parentPort!.postMessage(res, [codes.buffer]);
});
parentPort!.postMessage({ ready: true, backend: backend.name });
