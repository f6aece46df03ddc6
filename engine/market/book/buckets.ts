/**
 * Attribute buckets, each a ladder of price levels, each level a FIFO queue of order slots.
 *
 * A bucket holds the orders of one side that share the attributes a counter-order filters on
 * first (offers: kind, unit, country, region, IP class, protocol set; requests: kind, unit,
 * country or "any", class or "any", protocol or "any"). Its levels are kept in a sorted Float64Array of keys,
 * descending, so that the best level is the last one and removing it moves nothing. Queues are
 * intrusive doubly linked lists (`next` in the store's hot array, `prev` in the record):
 * cancel is O(1).
 */
import { I_BUCKET, I_LEVEL, I_PREV, I_SHIFT, type OrderStore } from "./order-store.ts";

/** One bucket: attributes shared by its orders and its price ladder. */
export class Bucket {
  readonly id: number;
  readonly side: number;
  readonly country: number;
  readonly region: number;
  /** Offer buckets: the class bit. Request buckets: 0 for "any" or one bit. */
  readonly classBit: number;
  readonly protoMask: number;
  /** Level keys (offers: price; requests: −price), descending: best is at `n − 1`. */
  keys: Float64Array;
  /** Level ids in the same order as `keys`. */
  lvls: Int32Array;
  /** Number of levels. */
  n = 0;
  /** Live orders in the bucket. */
  orders = 0;

  constructor(
    id: number,
    side: number,
    country: number,
    region: number,
    classBit: number,
    protoMask: number,
  ) {
    this.id = id;
    this.side = side;
    this.country = country;
    this.region = region;
    this.classBit = classBit;
    this.protoMask = protoMask;
    this.keys = new Float64Array(8);
    this.lvls = new Int32Array(8);
  }

  /** Index of the level with this key, or `-(insertionPoint + 1)`. */
  find(key: number): number {
    const keys = this.keys;
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid]!;
      if (k === key) return mid;
      if (k > key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }
}

/** Level storage shared by every bucket of a book. */
export class Levels {
  head: Int32Array;
  tail: Int32Array;
  /** Arrival sequence of each level's head order: cursors compare it without a record read. */
  headSeq: Float64Array;
  private free: Int32Array;
  private freeCount = 0;
  private high = 0;

  constructor(capacity: number) {
    const c = Math.max(16, capacity);
    this.head = new Int32Array(c);
    this.tail = new Int32Array(c);
    this.headSeq = new Float64Array(c);
    this.free = new Int32Array(c);
  }

  alloc(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!;
    if (this.high >= this.head.length) {
      const c = this.head.length * 2;
      const h = new Int32Array(c);
      h.set(this.head);
      this.head = h;
      const t = new Int32Array(c);
      t.set(this.tail);
      this.tail = t;
      const hs = new Float64Array(c);
      hs.set(this.headSeq);
      this.headSeq = hs;
      const f = new Int32Array(c);
      f.set(this.free);
      this.free = f;
    }
    return this.high++;
  }

  release(level: number): void {
    this.free[this.freeCount++] = level;
  }
}

/**
 * Appends a slot to the FIFO of its price level in a bucket, creating the level if needed.
 * @returns true when the bucket's best order changed (a new best level was created).
 */
export function enqueue(
  store: OrderStore,
  levels: Levels,
  b: Bucket,
  slot: number,
  key: number,
): boolean {
  let created = false;
  let i = b.find(key);
  let level: number;
  if (i >= 0) level = b.lvls[i]!;
  else {
    i = -i - 1;
    if (b.n === b.keys.length) {
      const k = new Float64Array(b.n * 2);
      k.set(b.keys);
      b.keys = k;
      const l = new Int32Array(b.n * 2);
      l.set(b.lvls);
      b.lvls = l;
    }
    b.keys.copyWithin(i + 1, i, b.n);
    b.lvls.copyWithin(i + 1, i, b.n);
    level = levels.alloc();
    b.keys[i] = key;
    b.lvls[i] = level;
    b.n++;
    levels.head[level] = -1;
    levels.tail[level] = -1;
    created = i === b.n - 1;
  }
  const w = store.i;
  const r = slot << I_SHIFT;
  const tail = levels.tail[level]!;
  const hi = store.hotI;
  w[r + I_PREV] = tail;
  hi[(slot << 2) + 2] = -1;
  if (tail < 0) {
    levels.head[level] = slot;
    levels.headSeq[level] = store.hot[slot << 1]!;
  } else hi[(tail << 2) + 2] = slot;
  levels.tail[level] = slot;
  w[r + I_LEVEL] = level;
  w[r + I_BUCKET] = b.id;
  b.orders++;
  return created;
}

/**
 * Unlinks a slot from its level, dropping the level when it empties.
 * @returns true when the bucket's best order changed (the head of the best level left).
 */
export function dequeue(
  store: OrderStore,
  levels: Levels,
  b: Bucket,
  slot: number,
  key: number,
): boolean {
  const top = key === b.keys[b.n - 1];
  const w = store.i;
  const r = slot << I_SHIFT;
  const level = w[r + I_LEVEL]!;
  const p = w[r + I_PREV]!;
  const hi = store.hotI;
  const nx = hi[(slot << 2) + 2]!;
  if (p < 0) {
    levels.head[level] = nx;
    if (nx >= 0) levels.headSeq[level] = store.hot[nx << 1]!;
  } else hi[(p << 2) + 2] = nx;
  if (nx < 0) levels.tail[level] = p;
  else w[(nx << I_SHIFT) + I_PREV] = p;
  b.orders--;
  if (levels.head[level]! < 0) {
    // An empty level would make every later walk step over it.
    const i = b.find(key);
    b.keys.copyWithin(i, i + 1, b.n);
    b.lvls.copyWithin(i, i + 1, b.n);
    b.n--;
    levels.release(level);
  }
  return top && p < 0;
}
