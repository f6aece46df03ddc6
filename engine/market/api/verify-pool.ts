/**
 * A small pool of verifier workers (`node:worker_threads`). Requests made in the same turn of
 * the event loop are sent as one batch per worker, so a burst of orders costs a few messages,
 * and the event loop never runs keccak or ECDSA recovery itself.
 *
 * `channels/crypto/` is growing a similar pool for balance proofs; the two can be unified.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { MarketDomain, MarketTypeName, TypedMessage } from "./typed-data.ts";

/** What a verification found. */
export interface Verified {
  /** 0x-hex digest, or null when the message does not fit its type. */
  readonly digest: string | null;
  /** Lowercase signer address, or null when the signature is invalid. */
  readonly signer: `0x${string}` | null;
}

type Pending = { resolve: (v: Verified) => void; reject: (e: unknown) => void };

/** Verifier workers with per-turn batching. */
export class VerifyPool {
  private readonly workers: Worker[];
  private readonly queues: [number, MarketTypeName, TypedMessage, string][][];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private rr = 0;
  private scheduled = false;

  /** Starts `size` workers (default: cores − 1, at least 1). */
  constructor(domain: MarketDomain, size = Math.max(1, availableParallelism() - 1)) {
    this.workers = [];
    this.queues = [];
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL("./verify-worker.ts", import.meta.url), { workerData: domain });
      w.on("message", (rows: [number, string | null, string | null][]) => {
        for (const [id, digest, signer] of rows) {
          const p = this.pending.get(id);
          if (!p) continue;
          this.pending.delete(id);
          p.resolve({ digest, signer: signer as `0x${string}` | null });
        }
      });
      w.on("error", (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
      this.queues.push([]);
    }
  }

  /** Computes the digest of a typed message and recovers its signer. */
  verify(type: MarketTypeName, message: TypedMessage, signature: string): Promise<Verified> {
    const id = this.nextId++;
    const q = this.queues[this.rr]!;
    this.rr = (this.rr + 1) % this.workers.length;
    q.push([id, type, message, signature]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private flush(): void {
    this.scheduled = false;
    for (let i = 0; i < this.workers.length; i++) {
      const q = this.queues[i]!;
      if (q.length === 0) continue;
      this.queues[i] = [];
      this.workers[i]!.postMessage(q);
    }
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
