/**
 * The order store: every live order is one 128-byte record in one ArrayBuffer, indexed by slot.
 *
 * Why records in a buffer and not objects: a book of a million orders as objects is a million
 * allocations and a GC that walks them; here an order is a slot number, placing one writes a few
 * cells, and freed slots are reused from a LIFO free list (deterministic, so the same order
 * stream always yields the same ids). Why records and not one array per field: matching reads
 * a dozen fields of a resting order it meets; in one record they share two cache lines instead
 * of costing a dozen cache misses. The fields a walk reads come first.
 *
 * The two fields a walk reads for every order it steps over — the arrival sequence and a 32-bit
 * filter signature — are copied into the order's entry in its price level (see buckets.ts),
 * where a walk reads them in sequence: most orders a filtered request skips are rejected
 * without touching their record.
 *
 * Record layout, in 32-bit words (`i`) — the first four words pairs are doubles (`f`):
 *   f[0] arrival sequence, f[1] price, f[2] qty, f[3] expiresAt,
 *   i[8] signature, i[9] flags, i[10] owner, i[11] bandwidth, i[12] minDur, i[13] maxDur,
 *   i[14] sticky, i[15] asn, i[16] country, i[17] region, i[18] pos, i[19] level,
 *   i[20] bucket, i[21] gen, i[22] used, i[23] minRating, i[24] minCompleted;
 * a request keeps its filter sets' sizes in i[13] and small sets inline in i[25–31].
 * Flags: kind bits 0–1, unit bit 2, side bit 3, class mask bits 4–6, protocol mask bits 7–9,
 * exit-policy mask bits 10–12, {@link FLAG_SETS} (bit 13) when a request has a country,
 * region or ASN set, so that orders without one never touch the set arrays, and
 * {@link FLAG_ALIAS} (bit 14).
 */

/** Offers and requests share the store; the side flag tells them apart. */
export const SIDE_OFFER = 0;
/** See {@link SIDE_OFFER}. */
export const SIDE_REQUEST = 1;

/** An order id packs a slot and the slot's generation: `gen * 2^SLOT_BITS + slot`. */
export const SLOT_BITS = 23;
/** Largest number of live orders (both sides together). */
export const MAX_SLOTS = 2 ** SLOT_BITS;
const SLOT_SPAN = 2 ** SLOT_BITS;

/** A record's words start at `slot << I_SHIFT` (Int32 view). */
export const I_SHIFT = 5;
/** A record's doubles start at `slot << F_SHIFT` (Float64 view). */
export const F_SHIFT = 4;
/** Arrival sequence: time priority, and ties between buckets. */
export const F_SEQ = 0;
/** Offer: price per unit. Request: highest price per unit. */
export const F_PRICE = 1;
/** Quantity still open. */
export const F_QTY = 2;
/** Expiry, ms since the epoch. */
export const F_EXPIRES = 3;
/** Filter signature ({@link offerSignature} or {@link requestSignature}). */
export const I_SIG = 8;
/** Packed kind, unit, side, masks and FLAG_SETS. */
export const I_FLAGS = 9;
/** Interned wallet index. */
export const I_OWNER = 10;
/** Offer: bandwidth. Request: minimum bandwidth (Mbps). */
export const I_BANDWIDTH = 11;
/** Offer: shortest deal. Request: the deal's duration (seconds). */
export const I_MIN_DUR = 12;
/** Offer: longest deal (seconds). Requests keep their filter sets' sizes here. */
export const I_MAX_DUR = 13;
/** Offer: longest sticky session. Request: the sticky session it needs (seconds). */
export const I_STICKY = 14;
/** Offer: its ASN. */
export const I_ASN = 15;
/** Offer: its country. Request: its one country, or "any". */
export const I_COUNTRY = 16;
/** Offer: its interned region (0 = none). */
export const I_REGION = 17;
/** Where the order's entry sits in its level: pool index `(pos + level delta) | 0`. */
export const I_POS = 18;
/** Level id the order rests in. */
export const I_LEVEL = 19;
/** Bucket id the order rests in. */
export const I_BUCKET = 20;
/** Generation of the slot: ids of earlier occupants are stale. */
export const I_GEN = 21;
/** 1 while the slot holds a live order. */
export const I_USED = 22;
/** Request: minimum provider rating (milli-stars). */
export const I_MIN_RATING = 23;
/** Request: minimum completed deals of the provider. */
export const I_MIN_COMPLETED = 24;

/** Packs the small attributes of an order into its flags word. */
export function packFlags(
  kind: number,
  unit: number,
  side: number,
  classMask: number,
  protoMask: number,
  exitMask: number,
): number {
  return kind | (unit << 2) | (side << 3) | (classMask << 4) | (protoMask << 7) | (exitMask << 10);
}

/** Bit length of a non-negative integer (0 for 0): a coarse, monotone tier. */
export function tier(v: number): number {
  return v === 0 ? 0 : 32 - Math.clz32(v);
}

/** {@link tier} capped at 15, to fit four bits: still monotone, so still a safe bound. */
export function tier4(v: number): number {
  const t = tier(v);
  return Math.min(t, 15);
}

/** {@link tier} halved and capped at 7, to fit three bits: coarser, still monotone. */
export function tier3(v: number): number {
  const t = tier(v) >> 1;
  return Math.min(t, 7);
}

/**
 * An offer's filter signature: ASN low 7 bits, region low 5 bits (bits 7–11), bandwidth tier
 * (bits 12–15, {@link tier4}), sticky-session tier (bits 16–19, {@link tier4}), shortest-deal
 * tier (bits 20–22, {@link tier3}), class bit (bits 23–25), protocol mask (bits 26–28),
 * exit-policy mask (bits 29–31). A request can only match an offer whose ASN and region bits
 * are those of its one ASN and region (when it names one), whose bandwidth and sticky tiers
 * are at least its own, whose shortest-deal tier is at most its duration's, and whose class,
 * protocols and exit policies meet its own: a necessary condition, checked before the exact
 * one. (The word is negative when the top exit bit is set; tests shift and mask.)
 */
export function offerSignature(
  asn: number,
  region: number,
  bandwidth: number,
  sticky: number,
  minDuration: number,
  classBit: number,
  protoMask: number,
  exitMask: number,
): number {
  return (
    (asn & 0x7f) |
    ((region & 0x1f) << 7) |
    (tier4(bandwidth) << 12) |
    (tier4(sticky) << 16) |
    (tier3(minDuration) << 20) |
    (classBit << 23) |
    (protoMask << 26) |
    (exitMask << 29)
  );
}

/** A value's bit (0–7) in an 8-bit Bloom filter of a request signature. */
export function bloomBit(v: number): number {
  return 1 << (Math.imul(v, 0x9e3779b1) >>> 29);
}

/**
 * A request's filter signature: 8-bit Bloom filters of its regions (bits 0–7) and ASNs
 * (8–15), all ones when it has none, its class mask (16–18), protocol mask (19–21),
 * exit-policy bit (22–24) and the tier of its minimum bandwidth (25–29). Countries need no
 * bits: a request rests in its countries' buckets. An offer that fails the signature cannot
 * match; one that passes is checked exactly.
 */
export function requestSignature(
  regions: readonly number[],
  asns: readonly number[],
  classMask: number,
  protoMask: number,
  exitBit: number,
  minBandwidth: number,
): number {
  let r = regions.length === 0 ? 0xff : 0;
  for (let i = 0; i < regions.length; i++) r |= bloomBit(regions[i]!);
  let a = asns.length === 0 ? 0xff : 0;
  for (let i = 0; i < asns.length; i++) a |= bloomBit(asns[i]!);
  return (
    r |
    (a << 8) |
    (classMask << 16) |
    (protoMask << 19) |
    (exitBit << 22) |
    (tier(minBandwidth) << 25)
  );
}

/** Flag bit: the request filters on a country, region or ASN set. */
export const FLAG_SETS = 1 << 13;
/**
 * Flag bit: the slot is an alias of a request listed in one more of its countries. An alias
 * keeps its primary's slot in `I_ASN` and the next alias in `I_REGION`; it has no id.
 */
export const FLAG_ALIAS = 1 << 14;

const EMPTY: readonly number[] = [];

/** What {@link OrderStore.image} captures: every field, arrays cut at the high-water mark. */
export interface OrderStoreImage {
  readonly capacity: number;
  readonly highWater: number;
  readonly freeList: Int32Array;
  readonly live: number;
  /** Record words (and, in the same bytes, record doubles) of the slots below `highWater`. */
  readonly words: Int32Array;
  /** The request filter sets that are not empty, as (slot, set) pairs. */
  readonly countries: readonly (readonly [number, readonly number[]])[];
  readonly regions: readonly (readonly [number, readonly number[]])[];
  readonly asns: readonly (readonly [number, readonly number[]])[];
}

function nonEmpty(sets: readonly (readonly number[])[], below: number) {
  const out: [number, readonly number[]][] = [];
  for (let k = 0; k < below; k++) if (sets[k]!.length > 0) out.push([k, sets[k]!]);
  return out;
}

/** Order records, grown by doubling (never inside the matching loop). */
export class OrderStore {
  capacity: number;
  /** Slots ever used; slots at or past it are fresh. */
  highWater = 0;
  private freeList: Int32Array;
  private freeCount = 0;
  /** Live orders on both sides. */
  live = 0;
  /** Record words. */
  i: Int32Array;
  /** Record doubles (same buffer). */
  f: Float64Array;
  /** Request filters that are sets (kept by reference, never copied). */
  countries: (readonly number[])[];
  regions: (readonly number[])[];
  asns: (readonly number[])[];

  constructor(capacity: number) {
    this.capacity = Math.max(16, Math.min(capacity, MAX_SLOTS));
    const buf = new ArrayBuffer(this.capacity << (I_SHIFT + 2));
    this.i = new Int32Array(buf);
    this.f = new Float64Array(buf);
    this.freeList = new Int32Array(this.capacity);
    // Touch every page now: the first write to a page is a fault of a few microseconds, which
    // would otherwise land on whichever order first takes a slot on it.
    this.i.fill(0);
    this.countries = new Array(this.capacity).fill(EMPTY);
    this.regions = new Array(this.capacity).fill(EMPTY);
    this.asns = new Array(this.capacity).fill(EMPTY);
  }

  /** Takes a free slot (most recently freed first) and returns it; -1 when the store is full. */
  alloc(): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.freeList[--this.freeCount]!;
    else {
      if (this.highWater >= MAX_SLOTS) return -1;
      if (this.highWater >= this.capacity) this.grow();
      slot = this.highWater++;
    }
    const b = slot << I_SHIFT;
    this.i[b + I_GEN] = this.i[b + I_GEN]! + 1;
    this.i[b + I_USED] = 1;
    this.live++;
    return slot;
  }

  /** Returns a slot to the free list. */
  release(slot: number): void {
    const r = slot << I_SHIFT;
    this.i[r + I_USED] = 0;
    if ((this.i[r + I_FLAGS]! & FLAG_SETS) !== 0) {
      // Drop the references so the arrays can be collected.
      this.countries[slot] = EMPTY;
      this.regions[slot] = EMPTY;
      this.asns[slot] = EMPTY;
    }
    this.freeList[this.freeCount++] = slot;
    this.live--;
  }

  /** Whether a slot holds a live order (not an alias). */
  isLive(slot: number): boolean {
    const r = slot << I_SHIFT;
    return (
      slot < this.highWater && this.i[r + I_USED] === 1 && (this.i[r + I_FLAGS]! & FLAG_ALIAS) === 0
    );
  }

  /** The public id of the order in a slot. */
  idOf(slot: number): number {
    return this.i[(slot << I_SHIFT) + I_GEN]! * SLOT_SPAN + slot;
  }

  /** The slot of a live order id, or -1 when the id is unknown, stale or malformed. */
  slotOf(id: number): number {
    if (!Number.isSafeInteger(id) || id < SLOT_SPAN) return -1;
    const slot = id % SLOT_SPAN;
    if (!this.isLive(slot)) return -1;
    return this.i[(slot << I_SHIFT) + I_GEN] === Math.floor(id / SLOT_SPAN) ? slot : -1;
  }

  /** A copy of the store's state up to its high-water mark, for snapshots. */
  image(): OrderStoreImage {
    const used = this.highWater;
    return {
      capacity: this.capacity,
      highWater: used,
      freeList: this.freeList.slice(0, this.freeCount),
      live: this.live,
      words: this.i.slice(0, used << I_SHIFT),
      countries: nonEmpty(this.countries, used),
      regions: nonEmpty(this.regions, used),
      asns: nonEmpty(this.asns, used),
    };
  }

  /** Loads an {@link image} into this store, replacing what it held. */
  load(img: OrderStoreImage): void {
    const c = img.capacity;
    const buf = new ArrayBuffer(c << (I_SHIFT + 2));
    this.i = new Int32Array(buf);
    this.f = new Float64Array(buf);
    this.i.set(img.words);
    this.freeList = new Int32Array(c);
    this.freeList.set(img.freeList);
    this.freeCount = img.freeList.length;
    this.capacity = c;
    this.highWater = img.highWater;
    this.live = img.live;
    const sets = (from: readonly (readonly [number, readonly number[]])[]) => {
      const out: (readonly number[])[] = new Array(c).fill(EMPTY);
      for (const [k, set] of from) out[k] = set;
      return out;
    };
    this.countries = sets(img.countries);
    this.regions = sets(img.regions);
    this.asns = sets(img.asns);
  }

  private grow(): void {
    const c = Math.min(this.capacity * 2, MAX_SLOTS);
    const buf = new ArrayBuffer(c << (I_SHIFT + 2));
    const i = new Int32Array(buf);
    i.set(this.i);
    this.i = i;
    this.f = new Float64Array(buf);
    const fl = new Int32Array(c);
    fl.set(this.freeList);
    this.freeList = fl;
    for (let k = this.capacity; k < c; k++) {
      this.countries.push(EMPTY);
      this.regions.push(EMPTY);
      this.asns.push(EMPTY);
    }
    this.capacity = c;
  }
}
