/**
 * The matcher: price-time priority over attribute buckets, partial fills, resting remainders.
 *
 * Shape: the house style is `transition(state, input, ctx) -> { state, effects }` with readonly
 * state. For the order book that would copy a million-order structure per input, so the matcher
 * keeps a mutable, pre-allocated book *inside* an object whose methods behave like a pure
 * transition seen from outside: each call takes one input and `now` (never a clock or a random
 * source), mutates only its own book, and reports what happened in {@link MatchEffects}. Feed the
 * same inputs with the same `now` and you get the same ids, fills and book, which is what the
 * journal replay relies on.
 *
 * Hot path: numbers only (prices and quantities are safe integers; bigint stays at the edge), no
 * allocation per order, typed arrays everywhere. Buckets are coarse, one per side, kind, unit
 * and country: a request visits only the offer buckets of the countries it accepts, an offer
 * only the request buckets of its country (or "any country"). A request with a few countries
 * is listed in each of their buckets (aliases), so offers never wade through other countries'
 * requests. Across buckets, a walk opens cursors lazily, best bucket first; inside one, it
 * rejects most non-matching orders (another class, protocol, region or ASN, too little
 * bandwidth...) from a 32-bit signature kept in the level's entries, without reading the
 * order's record: at a million orders, every record read is a cache miss, while the entries
 * are read in sequence.
 */
import { type Rejection, reject } from "../../../channels/index.ts";
import {
  COUNTRY_COUNT,
  MAX_DURATION_S,
  MAX_PRICE,
  MAX_QUANTITY,
  MAX_RATING_MILLI,
  MIN_DURATION_S,
} from "./attributes.ts";
import {
  Bucket,
  type BucketImage,
  bucketFromImage,
  bucketImage,
  dequeue,
  enqueue,
  L_HI,
  L_KEY,
  L_LO,
  L_NEXT,
  L_SHIFT,
  Levels,
  type LevelsImage,
} from "./buckets.ts";
import { EFFECT_EXPIRED, EFFECT_FILL, MatchEffects } from "./match-effects.ts";
import {
  bloomBit,
  F_EXPIRES,
  F_PRICE,
  F_QTY,
  F_SEQ,
  F_SHIFT,
  FLAG_ALIAS,
  FLAG_SETS,
  I_ASN,
  I_BANDWIDTH,
  I_BUCKET,
  I_COUNTRY,
  I_FLAGS,
  I_MAX_DUR,
  I_MIN_COMPLETED,
  I_MIN_DUR,
  I_MIN_RATING,
  I_OWNER,
  I_REGION,
  I_SHIFT,
  I_SIG,
  I_STICKY,
  I_USED,
  OrderStore,
  type OrderStoreImage,
  offerSignature,
  packFlags,
  requestSignature,
  SIDE_OFFER,
  SIDE_REQUEST,
  tier,
  tier3,
  tier4,
} from "./order-store.ts";

/** An offer as the matcher sees it: every attribute already encoded as a number. */
export interface OfferInput {
  /** Interned index of the provider's wallet. */
  readonly owner: number;
  readonly kind: number;
  readonly unit: number;
  readonly country: number;
  /** Interned region/city id; 0 when none. */
  readonly region: number;
  readonly asn: number;
  /** One IP-class bit. */
  readonly ipClass: number;
  /** Mask of protocols served. */
  readonly protocols: number;
  readonly bandwidthMbps: number;
  readonly minDurationS: number;
  readonly maxDurationS: number;
  readonly maxStickyS: number;
  /** Mask of exit-loss policies supported. */
  readonly exitPolicies: number;
  /** Price per unit, token base units. */
  readonly price: number;
  readonly quantity: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** A request as the matcher sees it. Set filters are strictly ascending; empty means any. */
export interface RequestInput {
  readonly owner: number;
  readonly kind: number;
  readonly unit: number;
  readonly countries: readonly number[];
  readonly regions: readonly number[];
  readonly asns: readonly number[];
  /** Mask of accepted IP classes; 0 means any. */
  readonly ipClasses: number;
  /** Mask of accepted protocols; 0 means any. */
  readonly protocols: number;
  readonly minBandwidthMbps: number;
  /** Minimum provider rating in milli-stars; 0 means no filter (unrated providers pass). */
  readonly minRatingMilli: number;
  readonly minCompletedDeals: number;
  /** Highest price per unit, token base units. */
  readonly maxPrice: number;
  readonly durationS: number;
  readonly stickyS: number;
  /** One exit-policy bit. */
  readonly exitPolicy: number;
  readonly quantity: number;
  readonly expiresAt: number;
}

/** Error codes the matcher returns. */
export type MatcherErrorCode =
  | "INVALID_PRICE"
  | "INVALID_QUANTITY"
  | "INVALID_DURATION"
  | "INVALID_ATTRIBUTE"
  | "ORDER_EXPIRED"
  | "ORDER_NOT_FOUND"
  | "BOOK_FULL";

/** A refused input (nothing changed): the channels layer's `Rejection` with a matcher code. */
export type MatcherRejection = Rejection<MatcherErrorCode>;

/** A resting order, read back from the book. */
export interface BookOrderView {
  readonly id: number;
  readonly side: "offer" | "request";
  readonly owner: number;
  readonly price: number;
  readonly qty: number;
  readonly seq: number;
  readonly expiresAt: number;
}

/** Book sizing. */
export interface MatcherOptions {
  /**
   * Order slots to pre-allocate (the store doubles past it). Their memory is touched when the
   * matcher is built, so that no order pays a page fault: a large capacity costs its memory
   * up front.
   */
  readonly capacity?: number;
}

const ANY_COUNTRY = COUNTRY_COUNT;
const MAX_SET = 64;
const MAX_I32 = 0x7fff_ffff;

function has(set: readonly number[], v: number): boolean {
  for (let i = 0; i < set.length; i++) if (set[i] === v) return true;
  return false;
}

function isU31(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= MAX_I32;
}

function ascendingSet(set: readonly number[], max: number): boolean {
  if (!Array.isArray(set) || set.length > MAX_SET) return false;
  for (let i = 0; i < set.length; i++) {
    const v = set[i]!;
    if (!Number.isInteger(v) || v < 0 || v > max) return false;
    if (i > 0 && v <= set[i - 1]!) return false;
  }
  return true;
}

/** Checks an offer's numbers; null when it is well-formed. */
export function checkOffer(o: OfferInput, now: number): MatcherRejection | null {
  if (!Number.isSafeInteger(o.price) || o.price < 0 || o.price > MAX_PRICE) {
    return reject("INVALID_PRICE", "price must be a non-negative safe integer");
  }
  if (!Number.isInteger(o.quantity) || o.quantity < 1 || o.quantity > MAX_QUANTITY) {
    return reject("INVALID_QUANTITY", `quantity must be an integer in 1..${MAX_QUANTITY}`);
  }
  if (
    !Number.isInteger(o.minDurationS) ||
    !Number.isInteger(o.maxDurationS) ||
    o.minDurationS < MIN_DURATION_S ||
    o.maxDurationS > MAX_DURATION_S ||
    o.minDurationS > o.maxDurationS
  ) {
    return reject("INVALID_DURATION", `durations must satisfy 5 <= min <= max <= 2592000`);
  }
  if (
    !(o.kind >= 0 && o.kind <= 2 && Number.isInteger(o.kind)) ||
    !(o.unit === 0 || o.unit === 1) ||
    !(Number.isInteger(o.country) && o.country >= 0 && o.country < COUNTRY_COUNT) ||
    !(Number.isInteger(o.region) && o.region >= 0 && o.region < 2 ** 31) ||
    !(o.ipClass === 1 || o.ipClass === 2 || o.ipClass === 4) ||
    !(Number.isInteger(o.protocols) && o.protocols >= 1 && o.protocols <= 7) ||
    !(Number.isInteger(o.exitPolicies) && o.exitPolicies >= 1 && o.exitPolicies <= 7) ||
    !isU31(o.asn) ||
    !isU31(o.bandwidthMbps) ||
    !isU31(o.maxStickyS) ||
    !(Number.isInteger(o.owner) && o.owner >= 0 && o.owner < 2 ** 31)
  ) {
    return reject("INVALID_ATTRIBUTE", "an offer attribute is out of range");
  }
  if (!(o.expiresAt > now) || !Number.isFinite(o.expiresAt)) {
    return reject("ORDER_EXPIRED", "expiry must be in the future");
  }
  return null;
}

/** Checks a request's numbers; null when it is well-formed. */
export function checkRequest(r: RequestInput, now: number): MatcherRejection | null {
  if (!Number.isSafeInteger(r.maxPrice) || r.maxPrice < 0 || r.maxPrice > MAX_PRICE) {
    return reject("INVALID_PRICE", "maxPrice must be a non-negative safe integer");
  }
  if (!Number.isInteger(r.quantity) || r.quantity < 1 || r.quantity > MAX_QUANTITY) {
    return reject("INVALID_QUANTITY", `quantity must be an integer in 1..${MAX_QUANTITY}`);
  }
  if (
    !Number.isInteger(r.durationS) ||
    r.durationS < MIN_DURATION_S ||
    r.durationS > MAX_DURATION_S
  ) {
    return reject("INVALID_DURATION", "duration must be 5 s to 30 days");
  }
  if (
    !(r.kind >= 0 && r.kind <= 2 && Number.isInteger(r.kind)) ||
    !(r.unit === 0 || r.unit === 1) ||
    !ascendingSet(r.countries, COUNTRY_COUNT - 1) ||
    !ascendingSet(r.regions, 2 ** 31 - 1) ||
    !ascendingSet(r.asns, MAX_I32) ||
    !(Number.isInteger(r.ipClasses) && r.ipClasses >= 0 && r.ipClasses <= 7) ||
    !(Number.isInteger(r.protocols) && r.protocols >= 0 && r.protocols <= 7) ||
    !(r.exitPolicy === 1 || r.exitPolicy === 2 || r.exitPolicy === 4) ||
    !isU31(r.minBandwidthMbps) ||
    !isU31(r.stickyS) ||
    !(Number.isInteger(r.minRatingMilli) && r.minRatingMilli >= 0) ||
    r.minRatingMilli > MAX_RATING_MILLI ||
    !(Number.isInteger(r.minCompletedDeals) && r.minCompletedDeals >= 0) ||
    r.minCompletedDeals > 2 ** 31 - 1 ||
    !(Number.isInteger(r.owner) && r.owner >= 0 && r.owner < 2 ** 31)
  ) {
    return reject("INVALID_ATTRIBUTE", "a request attribute is out of range");
  }
  if (!(r.expiresAt > now) || !Number.isFinite(r.expiresAt)) {
    return reject("ORDER_EXPIRED", "expiry must be in the future");
  }
  return null;
}

/**
 * A matcher's whole state, as {@link Matcher.image} copies it and {@link Matcher.load} puts it
 * back: a matcher loaded from an image answers every later input exactly as the original would
 * (same ids, fills and book), which is what journal snapshots rely on.
 */
export interface MatcherImage {
  readonly store: OrderStoreImage;
  readonly levels: LevelsImage;
  readonly buckets: readonly BucketImage[];
  readonly offerBucketAt: Int32Array;
  readonly offerBucketsByKindUnit: ReadonlyMap<number, readonly number[]>;
  readonly requestBucketAt: Int32Array;
  /** Bucket ids, per kind · unit. */
  readonly requestBucketsByKindUnit: ReadonlyMap<number, readonly number[]>;
  readonly bBest: Float64Array;
  readonly bSeq: Float64Array;
  readonly bLevel: Int32Array;
  readonly bHead: Int32Array;
  readonly ratings: Int32Array;
  readonly completed: Int32Array;
  readonly seqNo: number;
  readonly aliases: number;
  readonly wheel: ReadonlyMap<number, readonly number[]>;
  readonly nextDue: number;
}

/** Width of a slot of the expiry wheel, ms. */
const WHEEL_MS = 60_000;

/**
 * The order book and its matching function.
 *
 * @example
 * const m = new Matcher({ capacity: 1 << 16 });
 * const id = m.placeOffer(offer, now);           // number, or a MatcherRejection
 * m.placeRequest(request, now);                  // fills land in m.out
 * for (let i = 0; i < m.out.count; i++) m.out.qty[i];
 */
export class Matcher {
  /** Order records. Read-only for callers. */
  readonly store: OrderStore;
  private readonly levels: Levels;
  private readonly buckets: Bucket[] = [];
  /** (kind · unit, country) → offer bucket id, or -1. */
  private readonly offerBucketAt = new Int32Array(6 * COUNTRY_COUNT).fill(-1);
  /** (kind · unit) → every offer bucket id, for requests that accept any country. */
  private readonly offerBucketsByKindUnit = new Map<number, number[]>();
  // Per bucket id, what gathering and opening a cursor read without touching the bucket.
  /** Per bucket id: its best key (+Infinity when empty). */
  private bBest = new Float64Array(1024);
  /** Per bucket id: arrival sequence of its best order (ties on the best key go by it). */
  private bSeq = new Float64Array(1024);
  /** Per bucket id: its best level, or -1. */
  private bLevel = new Int32Array(1024);
  /** Per bucket id: pool index of its best order's entry (opening a cursor reads no level). */
  private bHead = new Int32Array(1024);
  /** (kind · unit, country or "any") → request bucket id, or -1. */
  private readonly requestBucketAt = new Int32Array(6 * (COUNTRY_COUNT + 1)).fill(-1);
  private readonly requestBucketsByKindUnit = new Map<number, Bucket[]>();
  private ratings = new Int32Array(1024).fill(-1);
  private completed = new Int32Array(1024);
  private seqNo = 0;
  /** The slot queries write their filter into; never part of the book. */
  private readonly scratch: number;
  // Walk cursors, one per opened bucket: bucket, level, entry (pool index), level key.
  private cB = new Int32Array(256);
  private cL = new Int32Array(256);
  private cE = new Int32Array(256);
  private cK = new Float64Array(256);
  /** Arrival sequence of each cursor's order (read once, compared often). */
  private cS = new Float64Array(256);
  /** Binary heap of cursor indices, best first. */
  private heap = new Int32Array(256);
  private hn = 0;
  /** Cursors in use in the current walk. */
  private nc = 0;
  // Candidate buckets not yet opened: a binary heap on their best (key, sequence), so that a
  // walk that opens one of many (a request accepting any country) pays for one pop.
  private pB = new Int32Array(256);
  private pK = new Float64Array(256);
  private pS = new Float64Array(256);
  private pn = 0;
  // The walk in progress: whether makers are offers, and the time.
  private wMakerIsOffer = 1;
  private wNow = 0;
  // The taker's side of the signature test (see offerSignature and requestSignature).
  /** Request taker: the one ASN it accepts (low 7 bits), or -1. */
  private fAsn = -1;
  /** Request taker: the one region it accepts (low 5 bits), or -1. */
  private fRegion = -1;
  /** Request taker: the classes and protocols it accepts (all bits for "any"). */
  private fWantCls = 7;
  private fWantProto = 7;
  private fBwTier = 0;
  private fStickyTier = 0;
  private fDurTier = 0;
  /** Request taker: its exit-policy bit. Offer taker: its exit-policy mask. */
  private fExit = 7;
  // Offer taker: its region and ASN Bloom bits, class, protocols and bandwidth tier.
  private fRBit = 0;
  private fABit = 0;
  private fCls = 0;
  private fProto = 0;
  /** Alias slots in use (they are not orders). */
  private aliases = 0;
  /**
   * Expiry wheel: the slots of placed orders by the minute they expire in, so that `expire`
   * visits only orders that may be due. Entries of orders gone since (filled, cancelled, the
   * slot reused) are dropped when their minute comes; `nextDue` is the earliest minute held.
   */
  private readonly wheel = new Map<number, number[]>();
  private nextDue = Number.POSITIVE_INFINITY;
  /** What the last call did. */
  readonly out = new MatchEffects();
  /** Open quantity the last placed or amended order kept (0 when it filled completely). */
  takerLeft = 0;

  constructor(options: MatcherOptions = {}) {
    this.store = new OrderStore(options.capacity ?? 1 << 16);
    const capacity = options.capacity ?? 1 << 16;
    // Entries: one per resting order and alias, with room for runs to grow into.
    this.levels = new Levels(capacity >> 2, capacity * 2);
    this.scratch = this.store.alloc();
    this.store.i[(this.scratch << I_SHIFT) + I_USED] = 0;
    this.store.live--;
  }

  /** Number of live orders on both sides. */
  get size(): number {
    return this.store.live - this.aliases;
  }

  /**
   * Records a provider's rating (milli-stars, -1 when unrated) and completed deals, which
   * requests filter on.
   */
  setProviderStats(owner: number, ratingMilli: number, completedDeals: number): void {
    if (owner >= this.ratings.length) {
      let c = this.ratings.length;
      while (c <= owner) c *= 2;
      const r = new Int32Array(c).fill(-1);
      r.set(this.ratings);
      this.ratings = r;
      const d = new Int32Array(c);
      d.set(this.completed);
      this.completed = d;
    }
    this.ratings[owner] = ratingMilli;
    this.completed[owner] = completedDeals;
  }

  /** A copy of the whole book (see {@link MatcherImage}); the matcher is left as it was. */
  image(): MatcherImage {
    const n = this.buckets.length;
    return {
      store: this.store.image(),
      levels: this.levels.image(),
      buckets: this.buckets.map(bucketImage),
      offerBucketAt: this.offerBucketAt.slice(),
      offerBucketsByKindUnit: new Map(
        [...this.offerBucketsByKindUnit].map(([k, ids]) => [k, [...ids]]),
      ),
      requestBucketAt: this.requestBucketAt.slice(),
      requestBucketsByKindUnit: new Map(
        [...this.requestBucketsByKindUnit].map(([k, list]) => [k, list.map((b) => b.id)]),
      ),
      bBest: this.bBest.slice(0, n),
      bSeq: this.bSeq.slice(0, n),
      bLevel: this.bLevel.slice(0, n),
      bHead: this.bHead.slice(0, n),
      ratings: this.ratings.slice(),
      completed: this.completed.slice(),
      seqNo: this.seqNo,
      aliases: this.aliases,
      wheel: new Map([...this.wheel].map(([m, slots]) => [m, [...slots]])),
      nextDue: this.nextDue,
    };
  }

  /**
   * Replaces this matcher's book with an {@link image}'s, so that it goes on exactly as the
   * matcher the image was taken of.
   */
  load(img: MatcherImage): void {
    this.store.load(img.store);
    this.levels.load(img.levels);
    this.buckets.length = 0;
    for (const b of img.buckets) this.buckets.push(bucketFromImage(b));
    this.offerBucketAt.set(img.offerBucketAt);
    this.offerBucketsByKindUnit.clear();
    for (const [k, ids] of img.offerBucketsByKindUnit) this.offerBucketsByKindUnit.set(k, [...ids]);
    this.requestBucketAt.set(img.requestBucketAt);
    this.requestBucketsByKindUnit.clear();
    for (const [k, ids] of img.requestBucketsByKindUnit) {
      this.requestBucketsByKindUnit.set(
        k,
        ids.map((id) => this.buckets[id]!),
      );
    }
    // Per-bucket arrays keep their usual room to grow (see addBucket).
    let room = 1024;
    while (room < img.bBest.length) room *= 2;
    this.bBest = new Float64Array(room);
    this.bBest.set(img.bBest);
    this.bSeq = new Float64Array(room);
    this.bSeq.set(img.bSeq);
    this.bLevel = new Int32Array(room);
    this.bLevel.set(img.bLevel);
    this.bHead = new Int32Array(room);
    this.bHead.set(img.bHead);
    this.ratings = img.ratings.slice();
    this.completed = img.completed.slice();
    this.seqNo = img.seqNo;
    this.aliases = img.aliases;
    this.wheel.clear();
    for (const [m, slots] of img.wheel) this.wheel.set(m, [...slots]);
    this.nextDue = img.nextDue;
  }

  /**
   * Whether {@link expire} at `now` would remove an order. Reads only: a timer asks this
   * before it journals a tick.
   */
  expiryDue(now: number): boolean {
    const minute = Math.floor(now / WHEEL_MS);
    if (minute < this.nextDue) return false;
    const s = this.store;
    for (const [m, slots] of this.wheel) {
      if (m > minute) continue;
      for (const slot of slots) {
        if (s.isLive(slot) && s.f[(slot << F_SHIFT) + F_EXPIRES]! <= now) return true;
      }
    }
    return false;
  }

  /**
   * Drops the expiry wheel's past minutes when none of their orders is due (they list only
   * slots that have left the book or been reused). Changes no outcome: {@link expire} skips
   * such entries anyway; this only keeps the wheel from growing while no tick expires anything.
   */
  pruneExpiryWheel(now: number): void {
    if (this.expiryDue(now)) return;
    const minute = Math.floor(now / WHEEL_MS);
    let next = Number.POSITIVE_INFINITY;
    for (const m of [...this.wheel.keys()]) {
      if (m < minute) this.wheel.delete(m);
      else if (m < next) next = m;
    }
    this.nextDue = next;
  }

  /**
   * Places an offer: it fills resting requests it satisfies (best price first, then oldest),
   * at each request's price, and rests with whatever is left.
   * @returns the order id, or a rejection (INVALID_*, ORDER_EXPIRED, BOOK_FULL) that changed nothing.
   */
  placeOffer(o: OfferInput, now: number): number | MatcherRejection {
    this.out.count = 0;
    const bad = checkOffer(o, now);
    if (bad) return bad;
    const slot = this.store.alloc();
    if (slot < 0) return reject("BOOK_FULL", "no free order slot");
    const w = this.store.i;
    const f = this.store.f;
    const r = slot << I_SHIFT;
    const d = slot << F_SHIFT;
    this.store.f[(slot << F_SHIFT) + F_SEQ] = ++this.seqNo;
    this.store.i[(slot << I_SHIFT) + I_SIG] = offerSignature(
      o.asn,
      o.region,
      o.bandwidthMbps,
      o.maxStickyS,
      o.minDurationS,
      o.ipClass,
      o.protocols,
      o.exitPolicies,
    );
    f[d + F_PRICE] = o.price;
    f[d + F_QTY] = o.quantity;
    f[d + F_EXPIRES] = o.expiresAt;
    w[r + I_FLAGS] = packFlags(o.kind, o.unit, SIDE_OFFER, o.ipClass, o.protocols, o.exitPolicies);
    w[r + I_OWNER] = o.owner;
    w[r + I_BANDWIDTH] = o.bandwidthMbps;
    w[r + I_MIN_DUR] = o.minDurationS;
    w[r + I_MAX_DUR] = o.maxDurationS;
    w[r + I_STICKY] = o.maxStickyS;
    w[r + I_ASN] = o.asn;
    w[r + I_COUNTRY] = o.country;
    w[r + I_REGION] = o.region;
    w[r + I_MIN_RATING] = 0;
    w[r + I_MIN_COMPLETED] = 0;
    this.schedule(slot, o.expiresAt);
    return this.run(slot, now);
  }

  /**
   * Places a request: it fills the offers it accepts in price-time order, at each offer's
   * price and never above its own limit, and rests with whatever is left.
   * @returns the order id, or a rejection that changed nothing.
   */
  placeRequest(r: RequestInput, now: number): number | MatcherRejection {
    this.out.count = 0;
    const bad = checkRequest(r, now);
    if (bad) return bad;
    const slot = this.store.alloc();
    if (slot < 0) return reject("BOOK_FULL", "no free order slot");
    this.writeRequest(slot, r);
    this.store.f[(slot << F_SHIFT) + F_SEQ] = ++this.seqNo;
    this.schedule(slot, r.expiresAt);
    return this.run(slot, now);
  }

  /**
   * Removes a resting order.
   * @returns the quantity it still had open, or ORDER_NOT_FOUND.
   */
  cancel(id: number): number | MatcherRejection {
    this.out.count = 0;
    const slot = this.store.slotOf(id);
    if (slot < 0) return reject("ORDER_NOT_FOUND", `no open order ${id}`);
    const left = this.store.f[(slot << F_SHIFT) + F_QTY]!;
    this.remove(slot);
    return left;
  }

  /**
   * Changes a resting order's price and open quantity. Lowering the quantity at the same price
   * keeps the order's place in the queue; anything else re-enters it as a new arrival (it may
   * match at once) under the same id.
   * @returns the quantity left open, or a rejection that changed nothing.
   */
  amend(id: number, price: number, quantity: number, now: number): number | MatcherRejection {
    this.out.count = 0;
    const s = this.store;
    const slot = s.slotOf(id);
    if (slot < 0) return reject("ORDER_NOT_FOUND", `no open order ${id}`);
    if (!Number.isSafeInteger(price) || price < 0 || price > MAX_PRICE) {
      return reject("INVALID_PRICE", "price must be a non-negative safe integer");
    }
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      return reject("INVALID_QUANTITY", `quantity must be an integer in 1..${MAX_QUANTITY}`);
    }
    const f = s.f;
    const d = slot << F_SHIFT;
    if (!(f[d + F_EXPIRES]! > now)) {
      this.expireSlot(slot);
      return reject("ORDER_NOT_FOUND", `order ${id} has expired`);
    }
    if (price === f[d + F_PRICE] && quantity <= f[d + F_QTY]!) {
      f[d + F_QTY] = quantity;
      this.takerLeft = quantity;
      return quantity;
    }
    this.unlink(slot);
    f[d + F_PRICE] = price;
    f[d + F_QTY] = quantity;
    f[d + F_SEQ] = ++this.seqNo;
    this.run(slot, now);
    return this.takerLeft;
  }

  /**
   * Gives quantity back to a resting order (a deal that did not happen), keeping its place.
   * @returns the new open quantity, or ORDER_NOT_FOUND when the order has left the book.
   */
  restore(id: number, quantity: number): number | MatcherRejection {
    this.out.count = 0;
    const s = this.store;
    const slot = s.slotOf(id);
    if (slot < 0) return reject("ORDER_NOT_FOUND", `no open order ${id}`);
    const d = (slot << F_SHIFT) + F_QTY;
    if (!Number.isInteger(quantity) || quantity < 1 || s.f[d]! + quantity > MAX_QUANTITY) {
      return reject("INVALID_QUANTITY", "restored quantity out of range");
    }
    s.f[d] = s.f[d]! + quantity;
    return s.f[d]!;
  }

  /**
   * Removes every order whose expiry is at or before `now`, reporting each as an expired row,
   * in slot order. Visits only the wheel's minutes that are due (matching already skips and
   * drops expired orders it meets), so a timer can run it often on a large book.
   */
  expire(now: number): number {
    this.out.count = 0;
    const minute = Math.floor(now / WHEEL_MS);
    if (minute < this.nextDue) return 0;
    const s = this.store;
    const due: number[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [m, slots] of this.wheel) {
      if (m > minute) {
        if (m < next) next = m;
        continue;
      }
      // The current minute keeps what is not due yet; earlier minutes are done with.
      let keep = 0;
      for (const slot of slots) {
        if (!s.isLive(slot)) continue;
        if (s.f[(slot << F_SHIFT) + F_EXPIRES]! <= now) due.push(slot);
        else if (m === minute) slots[keep++] = slot;
      }
      if (keep > 0) {
        slots.length = keep;
        if (m < next) next = m;
      } else this.wheel.delete(m);
    }
    this.nextDue = next;
    due.sort((a, b) => a - b);
    let n = 0;
    let last = -1;
    for (const slot of due) {
      // A slot listed twice (an entry of a minute and of the current one) expires once.
      if (slot === last || !s.isLive(slot)) continue;
      last = slot;
      this.expireSlot(slot);
      n++;
    }
    return n;
  }

  /** Lists a placed order's slot under the minute it expires in. */
  private schedule(slot: number, expiresAt: number): void {
    const m = Math.floor(expiresAt / WHEEL_MS);
    const slots = this.wheel.get(m);
    if (slots === undefined) this.wheel.set(m, [slot]);
    else slots.push(slot);
    if (m < this.nextDue) this.nextDue = m;
  }

  /** A live order, or undefined. */
  order(id: number): BookOrderView | undefined {
    const slot = this.store.slotOf(id);
    if (slot < 0) return undefined;
    return this.view(slot);
  }

  /**
   * The resting offers a request with these filters would fill, best first, without touching
   * the book (expired orders are skipped). Quantity, owner and exit policy of `filter` are
   * ignored.
   */
  queryOffers(filter: RequestInput, now: number, limit: number): BookOrderView[] {
    const out: BookOrderView[] = [];
    if (checkRequest({ ...filter, quantity: 1, expiresAt: now + 1 }, now)) return out;
    const t = this.scratch;
    this.writeRequest(t, filter);
    const w = this.store.i;
    w[(t << I_SHIFT) + I_OWNER] = -1;
    // A book read shows offers whatever exit policy they support.
    w[(t << I_SHIFT) + I_FLAGS] = w[(t << I_SHIFT) + I_FLAGS]! | (7 << 10);
    this.wMakerIsOffer = 1;
    this.wNow = now;
    this.setFilter(t);
    const maxPrice = filter.maxPrice;
    this.gatherOfferBuckets(t, maxPrice);
    this.hn = 0;
    this.nc = 0;
    while (out.length < limit) {
      const i = this.top(maxPrice);
      if (i < 0) break;
      const m = this.levels.eI[(this.cE[i]! << 2) + 2]!;
      if (this.store.f[(m << F_SHIFT) + F_EXPIRES]! > now && this.compatible(t, m)) {
        out.push(this.view(m));
      }
      this.step(i, maxPrice);
    }
    return out;
  }

  /** Resting requests of a kind and unit, best (highest limit, oldest) first. */
  queryRequests(kind: number, unit: number, now: number, limit: number): BookOrderView[] {
    const list = this.requestBucketsByKindUnit.get(kind * 2 + unit) ?? [];
    const all: BookOrderView[] = [];
    for (const b of list) this.collect(b, now, all);
    all.sort((a, b) => b.price - a.price || a.seq - b.seq);
    return all.slice(0, Math.max(0, limit));
  }

  /** Every live order id, in slot order (for tests and snapshots). */
  liveIds(): number[] {
    const ids: number[] = [];
    const s = this.store;
    for (let slot = 0; slot < s.highWater; slot++) if (s.isLive(slot)) ids.push(s.idOf(slot));
    return ids;
  }

  // ---- internals -------------------------------------------------------------------------

  private writeRequest(slot: number, q: RequestInput): void {
    const s = this.store;
    const w = s.i;
    const f = s.f;
    const r = slot << I_SHIFT;
    const d = slot << F_SHIFT;
    f[d + F_PRICE] = q.maxPrice;
    f[d + F_QTY] = q.quantity;
    f[d + F_EXPIRES] = q.expiresAt;
    // An empty mask means "any": store all bits so that one AND decides.
    const cls = q.ipClasses === 0 ? 7 : q.ipClasses;
    const proto = q.protocols === 0 ? 7 : q.protocols;
    const sets = q.countries.length + q.regions.length + q.asns.length > 0 ? FLAG_SETS : 0;
    w[r + I_FLAGS] = packFlags(q.kind, q.unit, SIDE_REQUEST, cls, proto, q.exitPolicy) | sets;
    w[r + I_OWNER] = q.owner;
    w[r + I_BANDWIDTH] = q.minBandwidthMbps;
    w[r + I_MIN_DUR] = q.durationS;
    w[r + I_STICKY] = q.stickyS;
    w[r + I_ASN] = 0;
    w[r + I_COUNTRY] = q.countries.length === 1 ? q.countries[0]! : ANY_COUNTRY;
    w[r + I_REGION] = 0;
    w[r + I_MIN_RATING] = q.minRatingMilli;
    w[r + I_MIN_COMPLETED] = q.minCompletedDeals;
    w[r + I_SIG] = requestSignature(
      q.regions,
      q.asns,
      cls,
      proto,
      q.exitPolicy,
      q.minBandwidthMbps,
    );
    if (sets !== 0 || slot === this.scratch) {
      s.countries[slot] = q.countries;
      s.regions[slot] = q.regions;
      s.asns[slot] = q.asns;
    }
    const nc = q.countries.length;
    const nr = q.regions.length;
    const na = q.asns.length;
    if (nc <= SET_INLINE_COUNTRIES && nr <= SET_INLINE_REGIONS && na <= SET_INLINE_ASNS) {
      w[r + I_SET_COUNTS] = nc | (nr << 4) | (na << 8);
      for (let k = 0; k < nc; k++) w[r + I_SET_COUNTRIES + k] = q.countries[k]!;
      for (let k = 0; k < nr; k++) w[r + I_SET_REGIONS + k] = q.regions[k]!;
      for (let k = 0; k < na; k++) w[r + I_SET_ASNS + k] = q.asns[k]!;
    } else {
      w[r + I_SET_COUNTS] = -1;
    }
  }

  private view(slot: number): BookOrderView {
    const s = this.store;
    const d = slot << F_SHIFT;
    const r = slot << I_SHIFT;
    return {
      id: s.idOf(slot),
      side: sideOf(s.i[r + I_FLAGS]!) === SIDE_OFFER ? "offer" : "request",
      owner: s.i[r + I_OWNER]!,
      price: s.f[d + F_PRICE]!,
      qty: s.f[d + F_QTY]!,
      seq: s.f[d + F_SEQ]!,
      expiresAt: s.f[d + F_EXPIRES]!,
    };
  }

  private collect(b: Bucket, now: number, into: BookOrderView[]): void {
    const s = this.store;
    const lv = this.levels;
    for (let li = b.n - 1; li >= 0; li--) {
      const L = b.lvls[li]! << L_SHIFT;
      for (let e = lv.t[L + L_LO]!; e < lv.t[L + L_HI]!; e++) {
        const o = lv.eI[(e << 2) + 2]!;
        // Tombstones are skipped; an alias is listed through its primary, in its own bucket.
        if (o < 0 || (s.i[(o << I_SHIFT) + I_FLAGS]! & FLAG_ALIAS) !== 0) continue;
        if (s.f[(o << F_SHIFT) + F_EXPIRES]! > now) into.push(this.view(o));
      }
    }
  }

  /** Matches the order in `slot` against the other side, then rests or frees it. */
  private run(slot: number, now: number): number {
    const s = this.store;
    const id = s.idOf(slot);
    const d = slot << F_SHIFT;
    this.wNow = now;
    if (sideOf(s.i[(slot << I_SHIFT) + I_FLAGS]!) === SIDE_OFFER) {
      this.wMakerIsOffer = 0;
      const limit = -s.f[d + F_PRICE]!;
      this.gatherRequestBuckets(slot, limit);
      // Most offers meet no request they could fill: nothing to walk.
      if (this.pn > 0) this.walk(slot, id, limit);
    } else {
      this.wMakerIsOffer = 1;
      const limit = s.f[d + F_PRICE]!;
      this.gatherOfferBuckets(slot, limit);
      if (this.pn > 0) this.walk(slot, id, limit);
    }
    const left = s.f[d + F_QTY]!;
    this.takerLeft = left;
    if (left > 0) this.rest(slot);
    else s.release(slot);
    return id;
  }

  /**
   * Fills the taker in `t`. Candidate buckets wait in `pending`, by their best key; a bucket
   * gets a cursor only once the best order seen so far is no better than its best level, so a
   * request filled from the top of one country's bucket never touches the others.
   * Open cursors sit in a binary heap ordered by (level key, arrival sequence): the heap's top
   * is the globally best resting order, so price-time priority holds across buckets. Filters
   * are checked lazily, on the order at the top only: the signature first (see {@link top}),
   * then the record.
   */
  private walk(t: number, takerId: number, limitKey: number): void {
    const s = this.store;
    const f = s.f;
    const out = this.out;
    const makerIsOffer = this.wMakerIsOffer;
    const now = this.wNow;
    this.setFilter(t);
    this.hn = 0;
    this.nc = 0;
    const tq = (t << F_SHIFT) + F_QTY;
    let left = f[tq]!;
    while (left > 0) {
      const i = this.top(limitKey);
      if (i < 0) break;
      const m = this.levels.eI[(this.cE[i]! << 2) + 2]!;
      const md = m << F_SHIFT;
      if (f[md + F_EXPIRES]! <= now) {
        // Expired orders are dropped where matching meets them: the sweep may not have run.
        this.step(i, limitKey);
        this.expireSlot(m);
        continue;
      }
      // A request met through one of its aliases trades as itself.
      const p = makerIsOffer === 1 ? m : primaryOf(s.i, m);
      if (!(makerIsOffer === 1 ? this.compatible(t, p) : this.compatible(p, t))) {
        this.step(i, limitKey);
        continue;
      }
      const pd = p << F_SHIFT;
      const have = f[pd + F_QTY]!;
      const q = Math.min(left, have);
      left -= q;
      f[pd + F_QTY] = have - q;
      out.push(EFFECT_FILL, takerId, s.idOf(p), makerIsOffer, f[pd + F_PRICE]!, q, have - q);
      if (have === q) {
        // The cursor leaves the entry before the entry leaves the level.
        this.step(i, limitKey);
        this.remove(p);
      }
    }
    f[tq] = left;
  }

  /** Loads the taker's side of the signature test for the walk that follows. */
  private setFilter(t: number): void {
    const s = this.store;
    const w = s.i;
    const tr = t << I_SHIFT;
    const flags = w[tr + I_FLAGS]!;
    if (this.wMakerIsOffer === 1) {
      const asns = s.asns[t]!;
      this.fAsn = asns.length === 1 ? asns[0]! & 0x7f : -1;
      const regions = s.regions[t]!;
      this.fRegion = regions.length === 1 ? regions[0]! & 0x1f : -1;
      this.fWantCls = classOf(flags);
      this.fWantProto = protoOf(flags);
      this.fBwTier = tier4(w[tr + I_BANDWIDTH]!);
      this.fStickyTier = tier4(w[tr + I_STICKY]!);
      this.fDurTier = tier3(w[tr + I_MIN_DUR]!);
      this.fExit = (flags >> 10) & 7;
    } else {
      this.fRBit = bloomBit(w[tr + I_REGION]!);
      this.fABit = bloomBit(w[tr + I_ASN]!) << 8;
      this.fCls = classOf(flags);
      this.fProto = protoOf(flags);
      this.fExit = (flags >> 10) & 7;
      this.fBwTier = tier(w[tr + I_BANDWIDTH]!);
    }
  }

  /**
   * The first entry in `[e, hi)` whose signature passes the taker's filter, or -1. Tombstones
   * (signature 0) never pass: every test needs an exit-policy bit.
   */
  private scan(e: number, hi: number): number {
    const eI = this.levels.eI;
    const exit = this.fExit;
    const bw = this.fBwTier;
    if (this.wMakerIsOffer === 1) {
      const sticky = this.fStickyTier;
      const dur = this.fDurTier;
      const asn = this.fAsn;
      const region = this.fRegion;
      const cls = this.fWantCls;
      const proto = this.fWantProto;
      for (; e < hi; e++) {
        const g = eI[(e << 2) + 3]!;
        if (
          ((g >> 29) & exit) !== 0 &&
          ((g >> 23) & cls) !== 0 &&
          ((g >> 26) & proto) !== 0 &&
          ((g >> 12) & 15) >= bw &&
          ((g >> 16) & 15) >= sticky &&
          ((g >> 20) & 7) <= dur &&
          (asn < 0 || (g & 0x7f) === asn) &&
          (region < 0 || ((g >> 7) & 0x1f) === region)
        ) {
          return e;
        }
      }
    } else {
      const rBit = this.fRBit;
      const aBit = this.fABit;
      const cls = this.fCls;
      const proto = this.fProto;
      for (; e < hi; e++) {
        const g = eI[(e << 2) + 3]!;
        if (
          ((g >> 22) & exit) !== 0 &&
          (g & rBit) !== 0 &&
          (g & aBit) !== 0 &&
          ((g >> 16) & cls) !== 0 &&
          ((g >> 19) & proto) !== 0 &&
          ((g >> 25) & 31) <= bw
        ) {
          return e;
        }
      }
    }
    return -1;
  }

  /**
   * Brings the first matchable candidate to the heap's top and returns its cursor, or -1 when
   * no open or pending bucket has one left under `limitKey`. A cursor's (key, sequence) is a
   * lower bound of its next candidate, so the entry at the top is checked against the
   * taker's signature here, and a cursor whose entry fails moves on.
   */
  private top(limitKey: number): number {
    for (;;) {
      this.openPending(limitKey);
      if (this.hn === 0) return -1;
      const i = this.heap[0]!;
      const e = this.cE[i]!;
      if (this.scan(e, e + 1) === e) return i;
      // Cannot match (or a tombstone): skipped without reading the order's record.
      this.advance(i, e + 1, limitKey);
    }
  }

  /**
   * Moves cursor `i`, at the heap's top, to the first entry at or after `from` in its level
   * that passes the signature test, looking at most {@link SCAN_AHEAD} entries ahead (past
   * that it stops there, unchecked: the heap may have better candidates first), or to the head
   * of its next level, or retires it past `limitKey`; then restores the heap.
   */
  private advance(i: number, from: number, limitKey: number): void {
    const lv = this.levels;
    const level = this.cL[i]!;
    const hi = lv.t[(level << L_SHIFT) + L_HI]!;
    if (from < hi) {
      const end = Math.min(from + SCAN_AHEAD, hi);
      const at = this.scan(from, end);
      if (at >= 0 || end < hi) {
        const e = at >= 0 ? at : end;
        this.cE[i] = e;
        this.cS[i] = lv.e[e << 1]!;
        this.siftDown(0);
        return;
      }
    }
    // Down the ladder by the level's link: the level is live (the cursor's order is still in
    // it, or one after its position), and so is the one it links to.
    const next = lv.t[(level << L_SHIFT) + L_NEXT]!;
    const key = next < 0 ? Number.POSITIVE_INFINITY : lv.tk[(next << 2) + L_KEY]!;
    if (key > limitKey) {
      // Retire: the last heap entry takes the top.
      this.heap[0] = this.heap[--this.hn]!;
      if (this.hn > 0) this.siftDown(0);
      return;
    }
    const e = lv.t[(next << L_SHIFT) + L_LO]!;
    this.cL[i] = next;
    this.cK[i] = key;
    this.cE[i] = e;
    this.cS[i] = lv.e[e << 1]!;
    this.siftDown(0);
  }

  /** Opens cursors on the pending buckets whose best order comes before the heap's top. */
  private openPending(limitKey: number): void {
    while (this.pn > 0) {
      if (this.hn > 0) {
        // Open a bucket only when its best order would come before the current best.
        const top = this.heap[0]!;
        const k = this.pK[0]!;
        const tk = this.cK[top]!;
        if (k > tk || (k === tk && this.pS[0]! > this.cS[top]!)) return;
      }
      const id = this.popPending();
      // The bucket may have changed since it was gathered (fills in this walk): re-read it.
      const key = this.bBest[id]!;
      if (key > limitKey) continue;
      if (this.nc === this.cB.length) this.growCursors();
      const c = this.nc++;
      // Opened from the per-bucket arrays alone: the level is read when the cursor moves past
      // its head, the bucket object when it leaves the level.
      this.cB[c] = id;
      this.cL[c] = this.bLevel[id]!;
      this.cK[c] = key;
      this.cE[c] = this.bHead[id]!;
      this.cS[c] = this.bSeq[id]!;
      this.heapPush(c);
    }
  }

  /** Moves the top cursor `i` past the order it rests on (see {@link advance}). */
  private step(i: number, limitKey: number): void {
    this.advance(i, this.cE[i]! + 1, limitKey);
  }

  /** Whether cursor `a` is ahead of cursor `b`: lower key, then earlier arrival. */
  private before(a: number, b: number): boolean {
    const ka = this.cK[a]!;
    const kb = this.cK[b]!;
    return ka < kb || (ka === kb && this.cS[a]! < this.cS[b]!);
  }

  private heapPush(c: number): void {
    if (this.hn === this.heap.length) {
      const h = new Int32Array(this.heap.length * 2);
      h.set(this.heap);
      this.heap = h;
    }
    const heap = this.heap;
    let p = this.hn++;
    while (p > 0) {
      const parent = (p - 1) >> 1;
      if (!this.before(c, heap[parent]!)) break;
      heap[p] = heap[parent]!;
      p = parent;
    }
    heap[p] = c;
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const n = this.hn;
    let p = pos;
    const x = heap[p]!;
    for (;;) {
      let c = 2 * p + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(heap[c + 1]!, heap[c]!)) c++;
      if (!this.before(heap[c]!, x)) break;
      heap[p] = heap[c]!;
      p = c;
    }
    heap[p] = x;
  }

  /** Adds a bucket to the pending heap under its best (key, sequence). */
  private addPending(id: number, key: number, seq: number): void {
    if (this.pn === this.pB.length) {
      const c = this.pn * 2;
      const b = new Int32Array(c);
      b.set(this.pB);
      this.pB = b;
      const k = new Float64Array(c);
      k.set(this.pK);
      this.pK = k;
      const q = new Float64Array(c);
      q.set(this.pS);
      this.pS = q;
    }
    const pB = this.pB;
    const pK = this.pK;
    const pS = this.pS;
    let j = this.pn++;
    while (j > 0) {
      const up = (j - 1) >> 1;
      const k = pK[up]!;
      if (k < key || (k === key && pS[up]! <= seq)) break;
      pB[j] = pB[up]!;
      pK[j] = k;
      pS[j] = pS[up]!;
      j = up;
    }
    pB[j] = id;
    pK[j] = key;
    pS[j] = seq;
  }

  /** Takes the best pending bucket off the heap. */
  private popPending(): number {
    const pB = this.pB;
    const pK = this.pK;
    const pS = this.pS;
    const id = pB[0]!;
    const n = --this.pn;
    if (n === 0) return id;
    const xb = pB[n]!;
    const xk = pK[n]!;
    const xs = pS[n]!;
    let j = 0;
    for (;;) {
      let c = 2 * j + 1;
      if (c >= n) break;
      if (c + 1 < n && (pK[c + 1]! < pK[c]! || (pK[c + 1] === pK[c] && pS[c + 1]! < pS[c]!))) c++;
      if (pK[c]! > xk || (pK[c] === xk && pS[c]! >= xs)) break;
      pB[j] = pB[c]!;
      pK[j] = pK[c]!;
      pS[j] = pS[c]!;
      j = c;
    }
    pB[j] = xb;
    pK[j] = xk;
    pS[j] = xs;
    return id;
  }

  private growCursors(): void {
    const c = this.cB.length * 2;
    const b = new Int32Array(c);
    b.set(this.cB);
    this.cB = b;
    const l = new Int32Array(c);
    l.set(this.cL);
    this.cL = l;
    const e = new Int32Array(c);
    e.set(this.cE);
    this.cE = e;
    const k = new Float64Array(c);
    k.set(this.cK);
    this.cK = k;
    const sq = new Float64Array(c);
    sq.set(this.cS);
    this.cS = sq;
  }

  /** Lists every offer bucket the request in `r` can match. */
  private gatherOfferBuckets(r: number, maxPrice: number): void {
    const s = this.store;
    const flags = s.i[(r << I_SHIFT) + I_FLAGS]!;
    const ku = kindOf(flags) * 2 + unitOf(flags);
    const countries = s.countries[r]!;
    this.pn = 0;
    if (countries.length > 0) {
      for (let i = 0; i < countries.length; i++) {
        this.pend(this.offerBucketAt[ku * COUNTRY_COUNT + countries[i]!]!, maxPrice);
      }
    } else {
      const ids = this.offerBucketsByKindUnit.get(ku);
      if (ids) for (let i = 0; i < ids.length; i++) this.pend(ids[i]!, maxPrice);
    }
  }

  /** Lists the (at most two) request buckets an offer can match: its country's and "any"'s. */
  private gatherRequestBuckets(o: number, limit: number): void {
    const s = this.store;
    const r = o << I_SHIFT;
    const flags = s.i[r + I_FLAGS]!;
    const ku = kindOf(flags) * 2 + unitOf(flags);
    this.pn = 0;
    this.pend(this.requestBucketAt[ku * (COUNTRY_COUNT + 1) + s.i[r + I_COUNTRY]!]!, limit);
    this.pend(this.requestBucketAt[ku * (COUNTRY_COUNT + 1) + ANY_COUNTRY]!, limit);
  }

  /** Adds bucket `id` (-1: none) to the candidates when its best key is within `limitKey`. */
  private pend(id: number, limitKey: number): void {
    if (id < 0) return;
    const k = this.bBest[id]!;
    if (k <= limitKey) this.addPending(id, k, this.bSeq[id]!);
  }

  /** Whether offer `o` satisfies every filter of request `r` (and they are not one wallet). */
  private compatible(r: number, o: number): boolean {
    const w = this.store.i;
    const rr = r << I_SHIFT;
    const ro = o << I_SHIFT;
    const fr = w[rr + I_FLAGS]!;
    const fo = w[ro + I_FLAGS]!;
    // Same kind and unit; then class, protocol and exit-policy masks must intersect.
    if ((fr & 7) !== (fo & 7)) return false;
    const both = fr & fo;
    if ((both & 0x70) === 0 || (both & 0x380) === 0 || (both & 0x1c00) === 0) return false;
    const owner = w[ro + I_OWNER]!;
    if (w[rr + I_OWNER] === owner) return false;
    if (w[ro + I_BANDWIDTH]! < w[rr + I_BANDWIDTH]!) return false;
    const d = w[rr + I_MIN_DUR]!;
    if (d < w[ro + I_MIN_DUR]! || d > w[ro + I_MAX_DUR]!) return false;
    if (w[ro + I_STICKY]! < w[rr + I_STICKY]!) return false;
    if ((fr & FLAG_SETS) !== 0) {
      const counts = w[rr + I_SET_COUNTS]!;
      if (counts >= 0) {
        // Small sets sit in the request's own record: no pointer chasing.
        if (!inline(w, rr + I_SET_COUNTRIES, counts & 15, w[ro + I_COUNTRY]!)) return false;
        if (!inline(w, rr + I_SET_REGIONS, (counts >> 4) & 15, w[ro + I_REGION]!)) return false;
        if (!inline(w, rr + I_SET_ASNS, (counts >> 8) & 15, w[ro + I_ASN]!)) return false;
      } else {
        const s = this.store;
        const cs = s.countries[r]!;
        if (cs.length > 0 && !has(cs, w[ro + I_COUNTRY]!)) return false;
        const rs = s.regions[r]!;
        if (rs.length > 0 && !has(rs, w[ro + I_REGION]!)) return false;
        const as = s.asns[r]!;
        if (as.length > 0 && !has(as, w[ro + I_ASN]!)) return false;
      }
    }
    const minRating = w[rr + I_MIN_RATING]!;
    if (minRating > 0 && (owner >= this.ratings.length || this.ratings[owner]! < minRating)) {
      return false;
    }
    const minDone = w[rr + I_MIN_COMPLETED]!;
    if (minDone > 0 && (owner >= this.completed.length || this.completed[owner]! < minDone)) {
      return false;
    }
    return true;
  }

  private rest(slot: number): void {
    const s = this.store;
    const price = s.f[(slot << F_SHIFT) + F_PRICE]!;
    if (sideOf(s.i[(slot << I_SHIFT) + I_FLAGS]!) === SIDE_OFFER) {
      const b = this.offerBucket(slot);
      if (enqueue(s, this.levels, b, slot, price)) this.bestChanged(b);
    } else {
      this.restRequest(slot, price);
    }
  }

  /**
   * Rests a request. One with a few countries is listed in each of their buckets (its primary
   * in the first, aliases in the others), so that an incoming offer from one country meets it
   * without walking every multi-country request of the market.
   */
  private restRequest(p: number, price: number): void {
    const s = this.store;
    let w = s.i;
    const rp = p << I_SHIFT;
    const cs = s.countries[p]!;
    const listed = cs.length >= 2 && cs.length <= MAX_ALIASED_COUNTRIES;
    w[rp + I_REGION] = -1;
    w[rp + I_COUNTRY] = listed ? cs[0]! : cs.length === 1 ? cs[0]! : ANY_COUNTRY;
    const b = this.requestBucket(p);
    if (enqueue(s, this.levels, b, p, -price)) this.bestChanged(b);
    if (!listed) return;
    const flags = (w[rp + I_FLAGS]! & ~FLAG_SETS) | FLAG_ALIAS;
    const fp = p << F_SHIFT;
    for (let j = cs.length - 1; j >= 1; j--) {
      const a = s.alloc();
      if (a < 0) {
        // No slot for an alias: list the request under "any country" instead.
        this.unlink(p);
        w[rp + I_COUNTRY] = ANY_COUNTRY;
        const any = this.requestBucket(p);
        if (enqueue(s, this.levels, any, p, -price)) this.bestChanged(any);
        return;
      }
      this.aliases++;
      w = s.i; // alloc may have grown the store
      const ra = a << I_SHIFT;
      const fa = a << F_SHIFT;
      w[ra + I_FLAGS] = flags;
      w[ra + I_COUNTRY] = cs[j]!;
      w[ra + I_ASN] = p;
      w[ra + I_REGION] = w[rp + I_REGION]!;
      w[rp + I_REGION] = a;
      s.f[fa + F_PRICE] = price;
      s.f[fa + F_EXPIRES] = s.f[fp + F_EXPIRES]!;
      s.f[fa + F_SEQ] = s.f[fp + F_SEQ]!;
      w[ra + I_SIG] = w[rp + I_SIG]!;
      const ab = this.requestBucket(a);
      if (enqueue(s, this.levels, ab, a, -price)) this.bestChanged(ab);
    }
  }

  private unlink(slot: number): void {
    const s = this.store;
    const w = s.i;
    const r = slot << I_SHIFT;
    const price = s.f[(slot << F_SHIFT) + F_PRICE]!;
    const id = w[r + I_BUCKET]!;
    const b = this.buckets[id]!;
    if (sideOf(w[r + I_FLAGS]!) === SIDE_OFFER) {
      if (dequeue(s, this.levels, b, slot, price, this.bBest[id]!)) this.bestChanged(b);
      return;
    }
    if (dequeue(s, this.levels, b, slot, -price, this.bBest[id]!)) this.bestChanged(b);
    // The request's aliases leave with it.
    let a = w[r + I_REGION]!;
    w[r + I_REGION] = -1;
    while (a >= 0) {
      const ra = a << I_SHIFT;
      const nextAlias = w[ra + I_REGION]!;
      const aid = w[ra + I_BUCKET]!;
      const ab = this.buckets[aid]!;
      if (dequeue(s, this.levels, ab, a, -price, this.bBest[aid]!)) this.bestChanged(ab);
      s.release(a);
      this.aliases--;
      a = nextAlias;
    }
  }

  /** Records a bucket's best (key, sequence), which gathering reads without touching the bucket. */
  private bestChanged(b: Bucket): void {
    if (b.n > 0) {
      const level = b.lvls[b.n - 1]!;
      const key = b.keys[b.n - 1]!;
      const head = this.levels.t[(level << L_SHIFT) + L_LO]!;
      const seq = this.levels.e[head << 1]!;
      this.bBest[b.id] = key;
      this.bSeq[b.id] = seq;
      this.bLevel[b.id] = level;
      this.bHead[b.id] = head;
    } else {
      this.bBest[b.id] = Number.POSITIVE_INFINITY;
      this.bSeq[b.id] = Number.POSITIVE_INFINITY;
      this.bLevel[b.id] = -1;
    }
  }

  private remove(slot: number): void {
    this.unlink(slot);
    this.store.release(slot);
  }

  private expireSlot(at: number): void {
    const s = this.store;
    const slot = primaryOf(s.i, at);
    const isOffer = sideOf(s.i[(slot << I_SHIFT) + I_FLAGS]!) === SIDE_OFFER ? 1 : 0;
    const qty = s.f[(slot << F_SHIFT) + F_QTY]!;
    this.out.push(EFFECT_EXPIRED, 0, s.idOf(slot), isOffer, 0, qty, 0);
    this.remove(slot);
  }

  private offerBucket(slot: number): Bucket {
    const w = this.store.i;
    const r = slot << I_SHIFT;
    const flags = w[r + I_FLAGS]!;
    const ku = kindOf(flags) * 2 + unitOf(flags);
    const country = w[r + I_COUNTRY]!;
    const at = ku * COUNTRY_COUNT + country;
    const id = this.offerBucketAt[at]!;
    if (id >= 0) return this.buckets[id]!;
    const b = new Bucket(this.buckets.length, SIDE_OFFER, country);
    this.addBucket(b);
    this.offerBucketAt[at] = b.id;
    let ids = this.offerBucketsByKindUnit.get(ku);
    if (!ids) {
      ids = [];
      this.offerBucketsByKindUnit.set(ku, ids);
    }
    ids.push(b.id);
    return b;
  }

  private addBucket(b: Bucket): void {
    this.buckets.push(b);
    if (b.id >= this.bBest.length) {
      const c = this.bBest.length * 2;
      const best = new Float64Array(c);
      best.set(this.bBest);
      this.bBest = best;
      const sq = new Float64Array(c);
      sq.set(this.bSeq);
      this.bSeq = sq;
      const lv = new Int32Array(c);
      lv.set(this.bLevel);
      this.bLevel = lv;
      const hd = new Int32Array(c);
      hd.set(this.bHead);
      this.bHead = hd;
    }
    this.bBest[b.id] = Number.POSITIVE_INFINITY;
    this.bSeq[b.id] = Number.POSITIVE_INFINITY;
    this.bLevel[b.id] = -1;
  }

  private requestBucket(slot: number): Bucket {
    const w = this.store.i;
    const r = slot << I_SHIFT;
    const flags = w[r + I_FLAGS]!;
    const ku = kindOf(flags) * 2 + unitOf(flags);
    const country = w[r + I_COUNTRY]!;
    // One bucket per kind, unit and country: the class and protocols a request wants are in
    // its signature, so an offer steps over the requests it cannot serve in the run. Splitting
    // by them spared walks little and left requests spread over many cold buckets.
    const at = ku * (COUNTRY_COUNT + 1) + country;
    const id = this.requestBucketAt[at]!;
    if (id >= 0) return this.buckets[id]!;
    const b = new Bucket(this.buckets.length, SIDE_REQUEST, country);
    this.addBucket(b);
    this.requestBucketAt[at] = b.id;
    let list = this.requestBucketsByKindUnit.get(ku);
    if (!list) {
      list = [];
      this.requestBucketsByKindUnit.set(ku, list);
    }
    list.push(b);
    return b;
  }
}

// Request records keep small filter sets inline, in words the request side does not use
// otherwise: counts (4 bits each) in word 13, countries in 25–28, regions in 29–30, ASN in 31.
const I_SET_COUNTS = I_MAX_DUR;
const I_SET_COUNTRIES = 25;
const SET_INLINE_COUNTRIES = 4;
const I_SET_REGIONS = 29;
const SET_INLINE_REGIONS = 2;
const I_SET_ASNS = 31;
const SET_INLINE_ASNS = 1;

/** Whether `v` is among the `n` words at `at` (or the set is empty). */
function inline(w: Int32Array, at: number, n: number, v: number): boolean {
  if (n === 0) return true;
  for (let k = 0; k < n; k++) if (w[at + k] === v) return true;
  return false;
}

/**
 * Entries a cursor looks ahead for one that passes the signature test before it yields the
 * heap's top to another: sixteen cache lines, read in sequence (a longer look is cheap, but
 * wasted when another bucket fills the request first).
 */
const SCAN_AHEAD = 64;

/** Most countries a request is listed under one by one (more go to "any country"). */
const MAX_ALIASED_COUNTRIES = 8;

/** The request slot an alias stands for (or the slot itself). */
function primaryOf(w: Int32Array, slot: number): number {
  const r = slot << I_SHIFT;
  return (w[r + I_FLAGS]! & FLAG_ALIAS) !== 0 ? w[r + I_ASN]! : slot;
}

function kindOf(flags: number): number {
  return flags & 3;
}
function unitOf(flags: number): number {
  return (flags >> 2) & 1;
}
function sideOf(flags: number): number {
  return (flags >> 3) & 1;
}
function classOf(flags: number): number {
  return (flags >> 4) & 7;
}
function protoOf(flags: number): number {
  return (flags >> 7) & 7;
}
