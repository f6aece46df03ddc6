/**
 * Signature verification spread over worker threads, so that every core verifies: one pool for
 * every kind of job (job-codec.ts lists them: balance proofs, typed data).
 *
 * Jobs submitted in the same event-loop turn are packed into binary records (see job-codec.ts)
 * and sent in batches to the least-loaded worker. Results come back per batch and may complete
 * out of order across workers, so each channel has a reorder queue: the promise of a channel's
 * n-th proof never settles before that of its (n−1)-th. The relay layer can therefore run
 * verify → transition → store in order per channel while many channels are in flight.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ChannelError } from "../errors.ts";
import { compareProofs } from "../proof-order.ts";
import type { BackendName } from "./backend.ts";
import { BALANCE_PROOF_JOB, type VerifyJob } from "./job-balance-proof.ts";
import { isKnownKind, recordSize, writeRecord } from "./job-codec.ts";
import { JOB_INVALID, type JobKind } from "./job-kind.ts";
import { TYPED_DATA_JOB, type TypedDataCheck, type TypedDataJob } from "./job-typed-data.ts";
import type { SignatureCheck, VerifyMode } from "./verifier.ts";
import type { WorkerRequest, WorkerResponse } from "./verify-worker.ts";

export type { VerifyJob } from "./job-balance-proof.ts";

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
  readonly results: unknown[];
  remaining: number;
  readonly resolve: (r: unknown[]) => void;
  readonly reject: (e: unknown) => void;
}

interface Entry {
  readonly kind: JobKind<unknown, unknown>;
  readonly job: unknown;
  /** The reorder queue of the job's channel, or null for a job that needs no order. */
  readonly channelKey: string | null;
  /** A job of a cumulative round (unordered), or null for a job with its own promise. */
  readonly round: Round | null;
  /** The job's place in its round. */
  readonly index: number;
  /** Where the worker writes the job's output. */
  outOff: number;
  result: unknown;
  readonly resolve: ((r: unknown) => void) | null;
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
 * A pool of verification workers, for every kind of job.
 * @example
 * const pool = await VerifyPool.create();
 * const check = await pool.verify({ domain, proof, signature, expectedSigner: partner });
 * const order = await pool.verifyTypedData({ domain: market, type: Offer, message, signature });
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
    return this.#submit(BALANCE_PROOF_JOB, job, job.proof.channelId);
  }

  /** Verifies many proofs; same as `verify` for each, in one call. */
  verifyMany(jobs: readonly VerifyJob[]): Promise<SignatureCheck[]> {
    return Promise.all(jobs.map((j) => this.verify(j)));
  }

  /**
   * Recovers the signer of a flat EIP-712 struct (the market's orders, say); the caller compares
   * it with the owner the message names.
   * @returns the signer and digest, or a rejection: VALUE_OUT_OF_RANGE when a field does not fit
   *   its type, a signature code when the signature is unusable
   * @throws ChannelError POOL_CLOSED after `close`, WORKER_FAILED when a worker died.
   */
  verifyTypedData(job: TypedDataJob): Promise<TypedDataCheck> {
    return this.run(TYPED_DATA_JOB, job);
  }

  /**
   * Runs one job of any kind the workers know (job-codec.ts's JOB_KINDS); results of different
   * jobs settle in any order.
   * @throws ChannelError POOL_CLOSED after `close`, WORKER_FAILED when a worker died; TypeError
   *   for a kind that is not in JOB_KINDS.
   */
  run<J, R>(kind: JobKind<J, R>, job: J): Promise<R> {
    if (!isKnownKind(kind)) {
      throw new TypeError(`job kind ${kind.tag} is not one of JOB_KINDS`);
    }
    return this.#submit(kind, job, null);
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
      // Highest first, in the contract's order.
      g.sort((a, b) => compareProofs(jobs[b]!.proof, jobs[a]!.proof));
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

  /** One job with its own promise, settled in order behind `channelKey`'s earlier ones. */
  #submit<J, R>(kind: JobKind<J, R>, job: J, channelKey: string | null): Promise<R> {
    if (this.#closed) return Promise.reject(new ChannelError("POOL_CLOSED", "verify pool closed"));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<R>((resolve, rejectP) => {
      const entry: Entry = {
        kind,
        job,
        channelKey,
        round: null,
        index: 0,
        outOff: 0,
        result: undefined,
        // The kind's `result` made it: an R.
        resolve: resolve as (r: unknown) => void,
        reject: rejectP,
      };
      if (channelKey !== null) {
        const q = this.#queues.get(channelKey);
        if (q === undefined) this.#queues.set(channelKey, [entry]);
        else q.push(entry);
      }
      this.#enqueue(entry);
    });
  }

  /** Proofs of different channels, unordered, under one promise for their results in order. */
  #submitRound(jobs: readonly VerifyJob[]): Promise<SignatureCheck[]> {
    if (this.#closed) return Promise.reject(new ChannelError("POOL_CLOSED", "verify pool closed"));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<SignatureCheck[]>((resolve, rejectP) => {
      const round: Round = {
        results: new Array<SignatureCheck>(jobs.length),
        remaining: jobs.length,
        resolve: resolve as (r: unknown[]) => void,
        reject: rejectP,
      };
      if (jobs.length === 0) resolve([]);
      for (let index = 0; index < jobs.length; index++) {
        const e: Entry = {
          kind: BALANCE_PROOF_JOB,
          job: jobs[index]!,
          channelKey: null,
          round,
          index,
          outOff: 0,
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
    let size = 0;
    const sized: Entry[] = [];
    for (const e of entries) {
      const n = recordSize(e.kind, e.job);
      if (n < 0) this.#settle(e, e.kind.result(e.job, JOB_INVALID, null, 0));
      else {
        size += n;
        sized.push(e);
      }
    }
    // An ArrayBuffer of our own, so that it can be transferred (allocUnsafe may hand out a slice
    // of a shared pool); jobs that cannot be encoded leave unused bytes at its end.
    const ab = new ArrayBuffer(size);
    const buf = Buffer.from(ab);
    const sent: Entry[] = [];
    let o = 0;
    let outSize = 0;
    for (const e of sized) {
      const end = writeRecord(buf, o, e.kind, e.job, outSize);
      if (end < 0) {
        this.#settle(e, e.kind.result(e.job, JOB_INVALID, null, 0));
        continue;
      }
      e.outOff = outSize;
      outSize += e.kind.outSize;
      sent.push(e);
      o = end;
    }
    if (sent.length === 0) return;
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.outstanding < slot.outstanding) slot = s;
    if (slot.outstanding === 0) slot.busySince = performance.now();
    slot.outstanding += sent.length;
    const id = this.#nextBatchId++;
    this.#batches.set(id, { slot, entries: sent });
    const req: WorkerRequest = { id, buf: ab, count: sent.length, outSize };
    slot.worker.postMessage(req, [ab]);
  }

  #onResult(msg: WorkerResponse | { ready: boolean }): void {
    if (!("id" in msg)) return;
    const batch = this.#batches.get(msg.id);
    if (batch === undefined) return;
    this.#batches.delete(msg.id);
    const { slot, entries } = batch;
    slot.outstanding -= entries.length;
    if (slot.outstanding === 0) slot.busyMs += performance.now() - slot.busySince;
    this.#jobsDone += entries.length;
    const { codes, out } = msg;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      this.#settle(e, e.kind.result(e.job, codes[i]!, out, e.outOff));
    }
  }

  #settle(entry: Entry, result: unknown): void {
    const { round } = entry;
    if (round !== null) {
      round.results[entry.index] = result;
      if (--round.remaining === 0) round.resolve(round.results);
      return;
    }
    const key = entry.channelKey;
    if (key === null) {
      entry.resolve!(result);
      return;
    }
    entry.result = result;
    const q = this.#queues.get(key);
    if (q === undefined) return;
    // Release the channel's completed prefix, in order.
    let n = 0;
    while (n < q.length && q[n]!.result !== undefined) {
      const e = q[n]!;
      e.resolve!(e.result);
      n++;
    }
    if (n === q.length) this.#queues.delete(key);
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
