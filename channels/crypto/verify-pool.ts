/**
 * Signature verification spread over worker threads, so that every core verifies.
 *
 * Jobs submitted in the same event-loop turn are packed into fixed-size binary records (see
 * job-codec.ts) and sent in batches to the least-loaded worker. Results come back per batch and
 * may complete out of order across workers, so each channel has a reorder queue: the promise of
 * a channel's n-th job never settles before that of its (n−1)-th. The relay layer can therefore
 * run verify → transition → store in order per channel while many channels are in flight.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Eip712Domain } from "../eip712.ts";
import { ChannelError, reject } from "../errors.ts";
import type { Address, BalanceProof, ChannelDomain } from "../types.ts";
import type { BackendName } from "./backend.ts";
import { cachedDomain } from "./domain-cache.ts";
import { encodeProofJob, JOB_SIZE } from "./job-codec.ts";
import { signatureErrorCode } from "./signature.ts";
import { SIGNER_MISMATCH, type SignatureCheck, type VerifyMode } from "./verifier.ts";
import type { WorkerRequest, WorkerResponse } from "./verify-worker.ts";

/** One balance proof to verify against its expected sender. */
export interface VerifyJob {
  readonly domain: ChannelDomain | Eip712Domain;
  readonly proof: BalanceProof;
  /** 65 or 64 bytes, as received. */
  readonly signature: Uint8Array;
  /** The partner who must have signed it. */
  readonly expectedSigner: Address;
}

/** Result of `verifyCumulative` for one job. */
export type CumulativeCheck =
  /** The job was verified; `check` says how it went. */
  | { readonly kind: "checked"; readonly check: SignatureCheck }
  /**
   * Not verified: a proof of the same channel and sender that ranks higher (more transferred,
   * or as much with a higher nonce — the contract's order) in the same batch verified, and
   * proofs are cumulative, so this one can never matter. `by` is that job's index.
   */
  | { readonly kind: "superseded"; readonly by: number };

/** Options of `VerifyPool.create`. */
export interface VerifyPoolOptions {
  /** Worker threads (default: available parallelism, at least 1). */
  readonly threads?: number;
  /** secp256k1 backend inside the workers (default "auto": native, else noble). */
  readonly backend?: BackendName | "auto";
  /** Verification strategy (default "cached-key"). */
  readonly mode?: VerifyMode;
  /** Largest batch sent to one worker at once (default 256). */
  readonly maxBatch?: number;
}

/** The jobs of one cumulative round: one promise for all of them, not one per job. */
interface Round {
  readonly results: SignatureCheck[];
  remaining: number;
  readonly resolve: (r: SignatureCheck[]) => void;
  readonly reject: (e: unknown) => void;
}

interface Entry {
  readonly job: VerifyJob;
  readonly channelKey: string;
  /** A job of a cumulative round (unordered), or null for a job with its own promise. */
  readonly round: Round | null;
  /** The job's place in its round. */
  readonly index: number;
  result: SignatureCheck | undefined;
  readonly resolve: ((r: SignatureCheck) => void) | null;
  readonly reject: ((e: unknown) => void) | null;
}

interface WorkerSlot {
  readonly worker: Worker;
  outstanding: number;
  /** Since when the slot has had jobs out (ms, `performance.now`), while it has. */
  busySince: number;
  /** Time it had jobs out, ms, up to its last idle moment. */
  busyMs: number;
}

/** How busy a pool has been: cumulative counters, to be compared between two readings. */
export interface PoolLoad {
  /** Worker-milliseconds with jobs out (summed over workers), counted up to now. */
  readonly busyMs: number;
  /** Jobs answered. */
  readonly jobsDone: number;
  /** Batches sent to workers (one message each). */
  readonly batches: number;
  readonly threads: number;
}

interface Batch {
  readonly slot: WorkerSlot;
  readonly entries: readonly Entry[];
}

/**
 * A pool of verification workers.
 * @example
 * const pool = await VerifyPool.create();
 * const check = await pool.verify({ domain, proof, signature, expectedSigner: partner });
 * await pool.close();
 */
export class VerifyPool {
  /** The backend the workers use ("native" or the fallback). */
  readonly backend: BackendName;
  readonly #slots: WorkerSlot[];
  readonly #maxBatch: number;
  readonly #batches = new Map<number, Batch>();
  readonly #queues = new Map<string, Entry[]>();
  #pending: Entry[] = [];
  #flushScheduled = false;
  #nextBatchId = 1;
  #jobsDone = 0;
  #failure: ChannelError | undefined;
  #closed = false;

  private constructor(slots: WorkerSlot[], backend: BackendName, maxBatch: number) {
    this.#slots = slots;
    this.backend = backend;
    this.#maxBatch = maxBatch;
    for (const slot of slots) {
      slot.worker.on("message", (msg: WorkerResponse) => this.#onResult(msg));
      slot.worker.on("error", (err) => this.#fail(err));
      slot.worker.on("exit", (code) => {
        if (!this.#closed) this.#fail(new Error(`verify worker exited with code ${code}`));
      });
    }
  }

  /**
   * Starts the workers and waits until each has loaded its backend.
   * @throws ChannelError WORKER_FAILED when a worker cannot start; BACKEND_UNAVAILABLE when a
   *   backend asked for by name cannot load.
   */
  static async create(options: VerifyPoolOptions = {}): Promise<VerifyPool> {
    const threads = Math.max(1, options.threads ?? availableParallelism());
    const workerData = { backend: options.backend ?? "auto", mode: options.mode ?? "cached-key" };
    const url = new URL("./verify-worker.ts", import.meta.url);
    const started = Array.from({ length: threads }, () => {
      const worker = new Worker(url, { workerData });
      return new Promise<{ slot: WorkerSlot; backend: BackendName }>((resolve, rejectP) => {
        const onError = (err: unknown) => {
          worker.terminate().catch(() => undefined);
          const code = /cannot load/.test(String(err)) ? "BACKEND_UNAVAILABLE" : "WORKER_FAILED";
          rejectP(new ChannelError(code, "verify worker failed to start", {}, err));
        };
        worker.once("error", onError);
        worker.once("message", (m: { ready: boolean; backend: BackendName }) => {
          worker.off("error", onError);
          resolve({
            slot: { worker, outstanding: 0, busySince: 0, busyMs: 0 },
            backend: m.backend,
          });
        });
      });
    });
    const results = await Promise.allSettled(started);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      for (const r of results) {
        if (r.status === "fulfilled") await r.value.slot.worker.terminate();
      }
      throw failed.reason;
    }
    const ok = results.map(
      (r) => (r as PromiseFulfilledResult<{ slot: WorkerSlot; backend: BackendName }>).value,
    );
    return new VerifyPool(
      ok.map((r) => r.slot),
      ok[0]!.backend,
      Math.max(1, options.maxBatch ?? 256),
    );
  }

  /** Number of worker threads. */
  get threads(): number {
    return this.#slots.length;
  }

  /**
   * How busy the workers have been so far, measured from this thread: a worker counts as busy
   * from the moment a batch is sent to it until its last answer is read, so time an answer waits
   * for a busy main thread counts too (that is headroom missing as well). Two clock readings per
   * batch, none per job.
   */
  load(): PoolLoad {
    const now = performance.now();
    let busyMs = 0;
    for (const s of this.#slots) busyMs += s.busyMs + (s.outstanding > 0 ? now - s.busySince : 0);
    return {
      busyMs,
      jobsDone: this.#jobsDone,
      batches: this.#nextBatchId - 1,
      threads: this.#slots.length,
    };
  }

  /**
   * Verifies one proof. Promises of the same channel settle in submission order.
   * @returns the check (a rejection value for a bad signature; never throws for peer input)
   * @throws ChannelError POOL_CLOSED after `close`, WORKER_FAILED when a worker died.
   */
  verify(job: VerifyJob): Promise<SignatureCheck> {
    return this.#submit(job);
  }

  /** Verifies many proofs; same as `verify` for each, in one call. */
  verifyMany(jobs: readonly VerifyJob[]): Promise<SignatureCheck[]> {
    return Promise.all(jobs.map((j) => this.#submit(j)));
  }

  /**
   * Verifies a batch of cumulative proofs with as little work as possible: per channel and
   * sender, only the highest-ranked proof (the contract's order: transferred, then nonce) is
   * verified; lower ones are `superseded` when it is valid. When it is not, all the lower ones
   * are verified in a second round, at once: the best valid one among them wins, valid ones
   * below it are `superseded` by it, invalid ones are reported `checked`. (Trying them one by
   * one would take one worker round trip each: a batch of forged proofs would hold every other
   * channel's verdict back for as many round trips.) Filter out proofs the state machine would
   * refuse anyway (see `precheckReceivedProof`) before calling, so that a refusable proof
   * cannot hide a usable one.
   * @returns one result per job, in the order given
   */
  async verifyCumulative(jobs: readonly VerifyJob[]): Promise<CumulativeCheck[]> {
    const groups = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      const key = `${job.proof.channelId}|${job.expectedSigner.toLowerCase()}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, [i]);
      else g.push(i);
    });
    const open: number[][] = [];
    for (const g of groups.values()) {
      g.sort((a, b) => rankDesc(jobs[a]!.proof, jobs[b]!.proof));
      open.push(g);
    }
    const out = new Array<CumulativeCheck>(jobs.length);
    const checks = await this.#submitRound(open.map((g) => jobs[g[0]!]!));
    const failed: number[][] = [];
    open.forEach((g, k) => {
      const check = checks[k]!;
      const top = g[0]!;
      out[top] = { kind: "checked", check };
      if (check.ok) {
        for (let j = 1; j < g.length; j++) out[g[j]!] = { kind: "superseded", by: top };
      } else if (g.length > 1) {
        failed.push(g.slice(1));
      }
    });
    if (failed.length === 0) return out;
    const rest = failed.flat();
    const second = await this.#submitRound(rest.map((i) => jobs[i]!));
    let k = 0;
    for (const g of failed) {
      // In rank order: the first valid proof wins, valid ones below it are superseded.
      let winner = -1;
      for (const i of g) {
        const check = second[k++]!;
        out[i] =
          check.ok && winner >= 0 ? { kind: "superseded", by: winner } : { kind: "checked", check };
        if (check.ok && winner < 0) winner = i;
      }
    }
    return out;
  }

  /** Stops the workers; pending jobs are rejected with POOL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new ChannelError("POOL_CLOSED", "verify pool closed");
    for (const e of this.#pending) rejectEntry(e, err);
    this.#pending = [];
    for (const b of this.#batches.values()) for (const e of b.entries) rejectEntry(e, err);
    this.#batches.clear();
    this.#queues.clear();
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  /** One job with its own promise, settled in order per channel. */
  #submit(job: VerifyJob): Promise<SignatureCheck> {
    if (this.#closed) return Promise.reject(new ChannelError("POOL_CLOSED", "verify pool closed"));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<SignatureCheck>((resolve, rejectP) => {
      const channelKey = job.proof.channelId;
      const entry: Entry = {
        job,
        channelKey,
        round: null,
        index: 0,
        result: undefined,
        resolve,
        reject: rejectP,
      };
      const q = this.#queues.get(channelKey);
      if (q === undefined) this.#queues.set(channelKey, [entry]);
      else q.push(entry);
      this.#enqueue(entry);
    });
  }

  /** Jobs of different channels, unordered, under one promise for their results in order. */
  #submitRound(jobs: readonly VerifyJob[]): Promise<SignatureCheck[]> {
    if (this.#closed) return Promise.reject(new ChannelError("POOL_CLOSED", "verify pool closed"));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<SignatureCheck[]>((resolve, rejectP) => {
      const round: Round = {
        results: new Array<SignatureCheck>(jobs.length),
        remaining: jobs.length,
        resolve,
        reject: rejectP,
      };
      if (jobs.length === 0) resolve(round.results);
      for (let index = 0; index < jobs.length; index++) {
        const job = jobs[index]!;
        const e = {
          job,
          channelKey: "",
          round,
          index,
          result: undefined,
          resolve: null,
          reject: null,
        };
        this.#enqueue(e);
      }
    });
  }

  #enqueue(entry: Entry): void {
    this.#pending.push(entry);
    if (this.#pending.length >= this.#maxBatch * this.#slots.length) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const pending = this.#pending;
    if (pending.length === 0 || this.#closed) return;
    this.#pending = [];
    const size = Math.min(this.#maxBatch, Math.ceil(pending.length / this.#slots.length));
    for (let start = 0; start < pending.length; start += size) {
      this.#send(pending.slice(start, start + size));
    }
  }

  #send(entries: Entry[]): void {
    // An ArrayBuffer of our own, so that it can be transferred (allocUnsafe may hand out a slice
    // of a shared pool); jobs that cannot be encoded leave unused records at its end.
    const ab = new ArrayBuffer(entries.length * JOB_SIZE);
    const buf = Buffer.from(ab);
    const sent: Entry[] = [];
    for (const e of entries) {
      const { job } = e;
      let encodable: boolean;
      try {
        encodable = encodeProofJob(
          buf,
          sent.length,
          cachedDomain(job.domain),
          job.proof,
          job.signature,
          job.expectedSigner,
        );
      } catch {
        // A malformed domain (bad chain id or contract) cannot be encoded either.
        encodable = false;
      }
      if (encodable) sent.push(e);
      else this.#settle(e, reject("VALUE_OUT_OF_RANGE", "proof field out of its Solidity range"));
    }
    if (sent.length === 0) return;
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.outstanding < slot.outstanding) slot = s;
    if (slot.outstanding === 0) slot.busySince = performance.now();
    slot.outstanding += sent.length;
    const id = this.#nextBatchId++;
    this.#batches.set(id, { slot, entries: sent });
    const req: WorkerRequest = { id, buf: ab, count: sent.length };
    slot.worker.postMessage(req, [ab]);
  }

  #onResult(msg: WorkerResponse | { ready: boolean }): void {
    if (!("id" in msg)) return;
    const batch = this.#batches.get(msg.id);
    if (batch === undefined) return;
    this.#batches.delete(msg.id);
    const { slot } = batch;
    slot.outstanding -= batch.entries.length;
    if (slot.outstanding === 0) slot.busyMs += performance.now() - slot.busySince;
    this.#jobsDone += batch.entries.length;
    const { entries } = batch;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const code = msg.codes[i]!;
      this.#settle(
        e,
        code === 0
          ? { ok: true, signer: e.job.expectedSigner.toLowerCase() as Address }
          : code === SIGNER_MISMATCH
            ? reject("SIGNER_MISMATCH", `signature is not by ${e.job.expectedSigner}`)
            : reject(signatureErrorCode(code), "malformed signature"),
      );
    }
  }

  #settle(entry: Entry, result: SignatureCheck): void {
    const { round } = entry;
    if (round !== null) {
      round.results[entry.index] = result;
      if (--round.remaining === 0) round.resolve(round.results);
      return;
    }
    entry.result = result;
    const q = this.#queues.get(entry.channelKey);
    if (q === undefined) return;
    // Release the channel's completed prefix, in order.
    let n = 0;
    while (n < q.length && q[n]!.result !== undefined) {
      const e = q[n]!;
      e.resolve!(e.result!);
      n++;
    }
    if (n === q.length) this.#queues.delete(entry.channelKey);
    else if (n > 0) q.splice(0, n);
  }

  #fail(err: unknown): void {
    if (this.#failure !== undefined || this.#closed) return;
    this.#failure = new ChannelError("WORKER_FAILED", "a verify worker failed", {}, err);
    for (const b of this.#batches.values())
      for (const e of b.entries) rejectEntry(e, this.#failure);
    for (const e of this.#pending) rejectEntry(e, this.#failure);
    this.#batches.clear();
    this.#pending = [];
    this.#queues.clear();
  }
}

/** Fails a job: its own promise, or its round's (the first failure of a round wins). */
function rejectEntry(e: Entry, err: unknown): void {
  if (e.round !== null) e.round.reject(err);
  else e.reject!(err);
}

/** Sorts proofs by the contract's order, highest first: transferred, then nonce. */
function rankDesc(a: BalanceProof, b: BalanceProof): number {
  if (a.transferred !== b.transferred) return a.transferred > b.transferred ? -1 : 1;
  if (a.nonce !== b.nonce) return a.nonce > b.nonce ? -1 : 1;
  return 0;
}
