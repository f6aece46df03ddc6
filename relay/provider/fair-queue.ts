/**
 * Proofs waiting for a verify batch, one FIFO lane per connection, drained round robin: every
 * lane with proofs waiting gets an equal share of each batch (what a share leaves unused goes
 * to the others), so that a connection flooding the node delays another's proofs by at most a
 * batch or two, never by its own backlog. Bounded per lane and in total. No allocation per
 * proof: each lane keeps parallel arrays, and lanes live as long as their connection.
 */

/** Bounds of a `FairQueue`. */
export interface FairQueueLimits {
  /** Items one lane may hold. */
  readonly perLane: number;
  /** Items all lanes may hold together... */
  readonly total: number;
  /** ...except that a lane holding fewer than this may always add one (a quiet connection). */
  readonly reservedPerLane: number;
}

interface Lane<K, A, B> {
  readonly key: K;
  readonly a: A[];
  readonly b: B[];
  /** Enqueue time of each item. */
  readonly at: number[];
  head: number;
  active: boolean;
}

/** One batch taken from the queue, as parallel arrays. */
export interface FairBatch<K, A, B> {
  readonly keys: K[];
  readonly a: A[];
  readonly b: B[];
  /** Enqueue time of the oldest item taken (Infinity when none). */
  oldestAt: number;
}

/**
 * Lanes of items (a pair `a`, `b` each) keyed by connection, drained round robin.
 * @example
 * const q = new FairQueue<Conn, PayFrame, Entry>({ perLane: 4096, total: 65536, reservedPerLane: 16 });
 * q.push(conn, frame, entry, now);
 * const batch = q.take(512);
 */
export class FairQueue<K extends object, A, B> {
  readonly #limits: FairQueueLimits;
  readonly #lanes = new WeakMap<K, Lane<K, A, B>>();
  #active: Lane<K, A, B>[] = [];
  #cursor = 0;
  #size = 0;
  #peak = 0;

  constructor(limits: FairQueueLimits) {
    this.#limits = limits;
  }

  /** Items waiting. */
  get size(): number {
    return this.#size;
  }

  /** The most items that ever waited at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Lanes with items waiting. */
  get activeLanes(): number {
    return this.#active.length;
  }

  /** Items in the fullest lane (walks the active lanes: for monitoring, not the hot path). */
  largestLane(): number {
    let max = 0;
    for (const l of this.#active) max = Math.max(max, l.a.length - l.head);
    return max;
  }

  /** Items waiting in `key`'s lane. */
  laneSize(key: K): number {
    const l = this.#lanes.get(key);
    return l === undefined ? 0 : l.a.length - l.head;
  }

  /** Adds an item to `key`'s lane; false (nothing added) when a bound refuses it. */
  push(key: K, a: A, b: B, at: number): boolean {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { key, a: [], b: [], at: [], head: 0, active: false };
      this.#lanes.set(key, lane);
    }
    if (this.#room(lane.a.length - lane.head) <= 0) return false;
    lane.a.push(a);
    lane.b.push(b);
    lane.at.push(at);
    if (++this.#size > this.#peak) this.#peak = this.#size;
    if (!lane.active) {
      lane.active = true;
      this.#active.push(lane);
    }
    return true;
  }

  /**
   * Puts items taken from `key`'s lane back at its front, in the order given (they were first
   * in line), as many as the bounds leave room for; returns how many.
   */
  requeue(key: K, a: readonly A[], b: readonly B[], at: number): number {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { key, a: [], b: [], at: [], head: 0, active: false };
      this.#lanes.set(key, lane);
    }
    const k = Math.min(a.length, this.#room(lane.a.length - lane.head));
    if (k <= 0) return 0;
    if (k < a.length) {
      a = a.slice(0, k);
      b = b.slice(0, k);
    }
    if (lane.head >= k) {
      lane.head -= k;
      for (let j = 0; j < k; j++) {
        lane.a[lane.head + j] = a[j]!;
        lane.b[lane.head + j] = b[j]!;
        lane.at[lane.head + j] = at;
      }
    } else {
      lane.a.splice(lane.head, 0, ...a);
      lane.b.splice(lane.head, 0, ...b);
      lane.at.splice(lane.head, 0, ...a.map(() => at));
    }
    this.#size += k;
    if (this.#size > this.#peak) this.#peak = this.#size;
    if (!lane.active) {
      lane.active = true;
      this.#active.push(lane);
    }
    return k;
  }

  /** How many more items a lane holding `n` may take. */
  #room(n: number): number {
    const lim = this.#limits;
    const room = lim.perLane - n;
    return this.#size >= lim.total ? Math.min(room, lim.reservedPerLane - n) : room;
  }

  /** Removes every item of `key`'s lane; returns how many there were. */
  drop(key: K): number {
    const lane = this.#lanes.get(key);
    if (lane === undefined || !lane.active) return 0;
    const n = lane.a.length - lane.head;
    this.#size -= n;
    clear(lane);
    this.#active = this.#active.filter((l) => l !== lane);
    return n;
  }

  /**
   * Takes up to `max` items, round robin: each active lane gets `floor(room / lanes)` (at least
   * one) in turn, starting one lane further on each call, until the batch is full or the
   * lanes are empty. Each lane's items come out in the order they went in.
   */
  take(max: number): FairBatch<K, A, B> {
    const out: FairBatch<K, A, B> = { keys: [], a: [], b: [], oldestAt: Number.POSITIVE_INFINITY };
    let room = Math.min(max, this.#size);
    while (room > 0 && this.#active.length > 0) {
      const lanes = this.#active;
      const share = Math.max(1, Math.floor(room / lanes.length));
      const start = this.#cursor % lanes.length;
      for (let i = 0; i < lanes.length && room > 0; i++) {
        const lane = lanes[(start + i) % lanes.length]!;
        const k = Math.min(share, lane.a.length - lane.head, room);
        if (k === 0) continue;
        if (lane.at[lane.head]! < out.oldestAt) out.oldestAt = lane.at[lane.head]!;
        for (let j = lane.head, end = lane.head + k; j < end; j++) {
          out.keys.push(lane.key);
          out.a.push(lane.a[j]!);
          out.b.push(lane.b[j]!);
        }
        lane.head += k;
        room -= k;
        this.#size -= k;
      }
      this.#active = lanes.filter((l) => {
        if (l.head < l.a.length) {
          compact(l);
          return true;
        }
        clear(l);
        return false;
      });
      this.#cursor = start + 1;
    }
    return out;
  }
}

function clear<K, A, B>(lane: Lane<K, A, B>): void {
  lane.a.length = 0;
  lane.b.length = 0;
  lane.at.length = 0;
  lane.head = 0;
  lane.active = false;
}

/** Drops a lane's consumed prefix once it is the larger part (amortised O(1) per item). */
function compact<K, A, B>(lane: Lane<K, A, B>): void {
  if (lane.head < 1024 || lane.head * 2 < lane.a.length) return;
  lane.a.splice(0, lane.head);
  lane.b.splice(0, lane.head);
  lane.at.splice(0, lane.head);
  lane.head = 0;
}
