/**
 * Attribute buckets, each a ladder of price levels, each level a FIFO run of entries.
 *
 * A bucket holds the orders of one side that share the attributes a counter-order filters on
 * first: kind, unit and country (requests: or "any country"). Its levels are kept in a sorted
 * Float64Array of keys, descending, so that the best level is the last one and removing it
 * moves nothing. Finer attributes (class, protocols, region, ASN...) are left to the signature
 * test: a few large buckets stay in cache and cost a counter-order less to gather than many
 * small ones, and skipping an entry in a run costs little.
 *
 * A level's orders are a contiguous run of entries in one pool ({@link Levels}), in arrival
 * order: 16 bytes an entry, the order's arrival sequence, slot and 32-bit filter signature.
 * Why runs and not linked lists: a walk steps over many orders a filtered request cannot take,
 * and in a list every step is a dependent cache miss (~220 ns at a million orders); in a run it
 * reads the next 16 bytes, which the hardware prefetches. A cancelled order leaves a tombstone
 * (slot -1, signature 0, which fails every signature test) that the walk steps over like any
 * other rejected entry; tombstones at the ends are trimmed at once, the others when the run
 * next needs room.
 */
import {
  F_SEQ,
  F_SHIFT,
  I_BUCKET,
  I_LEVEL,
  I_POS,
  I_SHIFT,
  I_SIG,
  type OrderStore,
} from "./order-store.ts";

/** One bucket: attributes shared by its orders and its price ladder. */
export class Bucket {
  readonly id: number;
  readonly side: number;
  readonly country: number;
  /** Level keys (offers: price; requests: −price), descending: best is at `n − 1`. */
  keys: Float64Array;
  /** Level ids in the same order as `keys`. */
  lvls: Int32Array;
  /** Number of levels. */
  n = 0;

  constructor(id: number, side: number, country: number) {
    this.id = id;
    this.side = side;
    this.country = country;
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

/** Words of a level in {@link Levels.t}: `level << L_SHIFT` is its first. */
export const L_SHIFT = 3;
/** Pool index of the level's first live entry (its head). */
export const L_LO = 0;
/** Pool index one past its last live entry. */
export const L_HI = 1;
/** Start of its segment of the pool. */
const L_BASE = 2;
/** Capacity of its segment (a power of two). */
const L_CAP = 3;
/**
 * Offset from an order's recorded position to its pool index: `(pos + delta) | 0`. Moving the
 * run (to grow it or close the gap its head left) changes the offset alone, not the records.
 */
export const L_DELTA = 4;
/** The bucket's next worse level, or -1: a walk steps down the ladder without the bucket. */
export const L_NEXT = 5;
/** The level's key, a double in words 6–7: `tk[(level << 2) + L_KEY]`. */
export const L_KEY = 3;

const MIN_SEGMENT = 4;

/** What {@link Levels.image} captures. */
export interface LevelsImage {
  /** Level table words of the levels below `high`. */
  readonly table: Int32Array;
  /** Levels the table has room for. */
  readonly tableCapacity: number;
  /** Entry pool doubles below `poolHigh`. */
  readonly pool: Float64Array;
  /** Length of the pool in doubles. */
  readonly poolCapacity: number;
  readonly free: Int32Array;
  readonly high: number;
  readonly poolHigh: number;
  readonly segFree: readonly (readonly number[])[];
}

/** What a snapshot keeps of a {@link Bucket}. */
export interface BucketImage {
  readonly id: number;
  readonly side: number;
  readonly country: number;
  readonly keys: Float64Array;
  readonly lvls: Int32Array;
}

/** A copy of a bucket's levels, for snapshots. */
export function bucketImage(b: Bucket): BucketImage {
  return {
    id: b.id,
    side: b.side,
    country: b.country,
    keys: b.keys.slice(0, b.n),
    lvls: b.lvls.slice(0, b.n),
  };
}

/** The bucket a {@link bucketImage} was taken of. */
export function bucketFromImage(img: BucketImage): Bucket {
  const b = new Bucket(img.id, img.side, img.country);
  const room = Math.max(8, img.keys.length);
  b.keys = new Float64Array(room);
  b.keys.set(img.keys);
  b.lvls = new Int32Array(room);
  b.lvls.set(img.lvls);
  b.n = img.keys.length;
  return b;
}

/** Level storage shared by every bucket of a book: the level table and the entry pool. */
export class Levels {
  /** Per level, 8 words (32 bytes): lo, hi, base, capacity, delta, next, key (a double). */
  t: Int32Array;
  /** Float64 view of {@link t}, for the keys. */
  tk: Float64Array;
  /**
   * The entries, 16 bytes each: `e[i << 1]` the order's arrival sequence, `eI[(i << 2) + 2]`
   * its slot (-1 for a tombstone), `eI[(i << 2) + 3]` its filter signature (0 for a
   * tombstone, which fails every test).
   */
  e: Float64Array;
  /** Int32 view of {@link e}. */
  eI: Int32Array;
  private free: Int32Array;
  private freeCount = 0;
  private high = 0;
  private poolHigh = 0;
  /** Free segments by size class (capacity `MIN_SEGMENT << class`), LIFO. */
  private readonly segFree: number[][] = [];

  constructor(capacity: number, entries: number) {
    const c = Math.max(16, capacity);
    this.t = new Int32Array(c << L_SHIFT);
    this.tk = new Float64Array(this.t.buffer);
    this.free = new Int32Array(c);
    this.e = new Float64Array(Math.max(64, entries) * 2);
    this.eI = new Int32Array(this.e.buffer);
    // Touched now rather than by the appends that first reach each page (see OrderStore).
    this.e.fill(0);
    this.t.fill(0);
  }

  /** A new, empty level with this key, above `next` (-1 when it is the worst). */
  alloc(key: number, next: number): number {
    let level: number;
    if (this.freeCount > 0) level = this.free[--this.freeCount]!;
    else {
      if (this.high === this.free.length) this.growTable();
      level = this.high++;
    }
    const base = this.allocSegment(MIN_SEGMENT);
    const L = level << L_SHIFT;
    const t = this.t;
    t[L + L_LO] = base;
    t[L + L_HI] = base;
    t[L + L_BASE] = base;
    t[L + L_CAP] = MIN_SEGMENT;
    t[L + L_DELTA] = 0;
    t[L + L_NEXT] = next;
    this.tk[(level << 2) + L_KEY] = key;
    return level;
  }

  /** Frees an empty level and its segment. */
  release(level: number): void {
    const L = level << L_SHIFT;
    this.freeSegment(this.t[L + L_BASE]!, this.t[L + L_CAP]!);
    this.free[this.freeCount++] = level;
  }

  /** Whether a level has no live entry left. */
  empty(level: number): boolean {
    const L = level << L_SHIFT;
    return this.t[L + L_LO] === this.t[L + L_HI];
  }

  /**
   * Appends an entry at the level's tail and returns its pool index (valid until the next
   * append to this level; records keep `index - delta`).
   */
  append(store: OrderStore, level: number, slot: number, seq: number, sig: number): number {
    const L = level << L_SHIFT;
    if (this.t[L + L_HI] === this.t[L + L_BASE]! + this.t[L + L_CAP]!) this.makeRoom(store, level);
    const t = this.t;
    const hi = t[L + L_HI]!;
    this.e[hi << 1] = seq;
    this.eI[(hi << 2) + 2] = slot;
    this.eI[(hi << 2) + 3] = sig;
    t[L + L_HI] = hi + 1;
    return hi;
  }

  /** Turns the entry at pool index `e` into a tombstone and trims the run's ends. */
  remove(level: number, e: number): void {
    const t = this.t;
    const L = level << L_SHIFT;
    const eI = this.eI;
    eI[(e << 2) + 2] = -1;
    eI[(e << 2) + 3] = 0;
    // The ends of a run are live entries (or the run is empty: lo === hi).
    let lo = t[L + L_LO]!;
    const hi = t[L + L_HI]!;
    if (e === lo) {
      while (lo < hi && eI[(lo << 2) + 2]! < 0) lo++;
      t[L + L_LO] = lo;
    } else if (e === hi - 1) {
      // lo is live, so the loop stops there.
      let h = hi - 1;
      while (eI[(h << 2) - 2]! < 0) h--;
      t[L + L_HI] = h;
    }
  }

  /**
   * Makes room at the tail of a full segment: drops the tombstones when they are half the run
   * (rewriting the moved orders' positions), else slides the run down over the gap its head
   * left when that gap is a quarter of the segment, else moves it to a segment twice as big.
   * Each is paid for by the removals or appends since the last one.
   */
  /** A copy of the levels' state, arrays cut at what is in use, for snapshots. */
  image(): LevelsImage {
    return {
      table: this.t.slice(0, this.high << L_SHIFT),
      tableCapacity: this.free.length,
      pool: this.e.slice(0, this.poolHigh << 1),
      poolCapacity: this.e.length,
      free: this.free.slice(0, this.freeCount),
      high: this.high,
      poolHigh: this.poolHigh,
      segFree: this.segFree.map((l) => [...l]),
    };
  }

  /** Loads an {@link image} into these levels, replacing what they held. */
  load(img: LevelsImage): void {
    this.t = new Int32Array(img.tableCapacity << L_SHIFT);
    this.t.set(img.table);
    this.tk = new Float64Array(this.t.buffer);
    this.free = new Int32Array(img.tableCapacity);
    this.free.set(img.free);
    this.freeCount = img.free.length;
    this.e = new Float64Array(img.poolCapacity);
    this.e.set(img.pool);
    this.eI = new Int32Array(this.e.buffer);
    this.high = img.high;
    this.poolHigh = img.poolHigh;
    this.segFree.length = 0;
    for (const l of img.segFree) this.segFree.push([...l]);
  }

  private makeRoom(store: OrderStore, level: number): void {
    const L = level << L_SHIFT;
    let t = this.t;
    const lo = t[L + L_LO]!;
    const hi = t[L + L_HI]!;
    const base = t[L + L_BASE]!;
    const cap = t[L + L_CAP]!;
    let live = 0;
    for (let e = lo; e < hi; e++) if (this.eI[(e << 2) + 2]! >= 0) live++;
    const span = hi - lo;
    if (live * 2 <= span) {
      const w = store.i;
      const delta = t[L + L_DELTA]!;
      const eI = this.eI;
      const ef = this.e;
      let d = base;
      for (let e = lo; e < hi; e++) {
        const slot = eI[(e << 2) + 2]!;
        if (slot < 0) continue;
        ef[d << 1] = ef[e << 1]!;
        eI[(d << 2) + 2] = slot;
        eI[(d << 2) + 3] = eI[(e << 2) + 3]!;
        w[(slot << I_SHIFT) + I_POS] = (d - delta) | 0;
        d++;
      }
      t[L + L_LO] = base;
      t[L + L_HI] = d;
      return;
    }
    let to = base;
    let toCap = cap;
    if (lo - base < cap >> 2) {
      toCap = cap * 2;
      to = this.allocSegment(toCap);
      t = this.t;
    }
    this.e.copyWithin(to << 1, lo << 1, hi << 1);
    if (to !== base) this.freeSegment(base, cap);
    t[L + L_DELTA] = (t[L + L_DELTA]! + (to - lo)) | 0;
    t[L + L_LO] = to;
    t[L + L_HI] = to + span;
    t[L + L_BASE] = to;
    t[L + L_CAP] = toCap;
  }

  private allocSegment(cap: number): number {
    const c = 31 - Math.clz32(cap / MIN_SEGMENT);
    const list = this.segFree[c];
    if (list !== undefined && list.length > 0) return list.pop()!;
    if (this.poolHigh + cap > this.e.length >> 1) this.growPool(this.poolHigh + cap);
    const base = this.poolHigh;
    this.poolHigh += cap;
    return base;
  }

  private freeSegment(base: number, cap: number): void {
    const c = 31 - Math.clz32(cap / MIN_SEGMENT);
    let list = this.segFree[c];
    while (list === undefined) {
      this.segFree.push([]);
      list = this.segFree[c];
    }
    list.push(base);
  }

  private growPool(need: number): void {
    let c = this.e.length;
    while (c < need) c *= 2;
    const e = new Float64Array(c * 2);
    e.set(this.e);
    this.e = e;
    this.eI = new Int32Array(e.buffer);
  }

  private growTable(): void {
    const c = this.free.length * 2;
    const t = new Int32Array(c << L_SHIFT);
    t.set(this.t);
    this.t = t;
    this.tk = new Float64Array(t.buffer);
    const f = new Int32Array(c);
    f.set(this.free);
    this.free = f;
  }
}

/**
 * Appends a slot to the run of its price level in a bucket, creating the level if needed.
 * The entry takes a copy of the order's arrival sequence and signature.
 * @returns true when the bucket's best order changed (a new best level was created) or its
 * entry moved (the best level's run was moved to make room).
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
    level = levels.alloc(key, i > 0 ? b.lvls[i - 1]! : -1);
    b.keys[i] = key;
    b.lvls[i] = level;
    b.n++;
    // The better neighbour now steps down to the new level.
    if (i + 1 < b.n) levels.t[(b.lvls[i + 1]! << L_SHIFT) + L_NEXT] = level;
    created = i === b.n - 1;
  }
  const L = level << L_SHIFT;
  const lo = levels.t[L + L_LO]!;
  const w = store.i;
  const r = slot << I_SHIFT;
  const e = levels.append(store, level, slot, store.f[(slot << F_SHIFT) + F_SEQ]!, w[r + I_SIG]!);
  if (i === b.n - 1 && levels.t[L + L_LO] !== lo) created = true;
  w[r + I_POS] = (e - levels.t[L + L_DELTA]!) | 0;
  w[r + I_LEVEL] = level;
  w[r + I_BUCKET] = b.id;
  return created;
}

/**
 * Takes a slot out of its level, dropping the level when it empties. `bestKey` is the
 * bucket's best key, which the caller keeps in a dense array: the bucket object itself is read
 * only when a level goes.
 * @returns true when the bucket's best order changed (the head of the best level left).
 */
export function dequeue(
  store: OrderStore,
  levels: Levels,
  b: Bucket,
  slot: number,
  key: number,
  bestKey: number,
): boolean {
  const top = key === bestKey;
  const w = store.i;
  const r = slot << I_SHIFT;
  const level = w[r + I_LEVEL]!;
  const L = level << L_SHIFT;
  const e = (w[r + I_POS]! + levels.t[L + L_DELTA]!) | 0;
  const head = e === levels.t[L + L_LO];
  levels.remove(level, e);
  if (levels.empty(level)) {
    // An empty level would make every later walk step over it.
    const i = b.find(key);
    if (i + 1 < b.n) {
      levels.t[(b.lvls[i + 1]! << L_SHIFT) + L_NEXT] = levels.t[(level << L_SHIFT) + L_NEXT]!;
    }
    b.keys.copyWithin(i, i + 1, b.n);
    b.lvls.copyWithin(i, i + 1, b.n);
    b.n--;
    levels.release(level);
  }
  return top && head;
}
