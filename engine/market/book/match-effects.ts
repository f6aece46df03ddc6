/**
 * The matcher's output buffer: what the last call did, as rows of parallel typed arrays.
 *
 * The matcher reuses one buffer for every call so that matching allocates nothing; the caller
 * reads the rows before its next call (or turns them into objects with {@link readEffects}).
 */

/** Row type: a trade between the incoming order and a resting one. */
export const EFFECT_FILL = 1;
/** Row type: a resting order met its expiry and left the book. */
export const EFFECT_EXPIRED = 2;

/** A trade: `qty` units at the resting order's `price`. */
export interface FillEffect {
  readonly type: "fill";
  readonly takerId: number;
  readonly makerId: number;
  /** True when the resting (maker) order is the offer. */
  readonly makerIsOffer: boolean;
  readonly price: number;
  readonly qty: number;
  /** Quantity the resting order still has open after this fill. */
  readonly makerLeft: number;
}

/** A resting order removed because it expired. */
export interface ExpiredEffect {
  readonly type: "expired";
  readonly orderId: number;
  /** Quantity that was still open. */
  readonly qty: number;
}

/** What one matcher call did. */
export type MatchEffect = FillEffect | ExpiredEffect;

/** Reusable rows of effects. */
export class MatchEffects {
  count = 0;
  type: Uint8Array;
  taker: Float64Array;
  maker: Float64Array;
  makerIsOffer: Uint8Array;
  price: Float64Array;
  qty: Float64Array;
  makerLeft: Float64Array;

  constructor(capacity = 1024) {
    this.type = new Uint8Array(capacity);
    this.taker = new Float64Array(capacity);
    this.maker = new Float64Array(capacity);
    this.makerIsOffer = new Uint8Array(capacity);
    this.price = new Float64Array(capacity);
    this.qty = new Float64Array(capacity);
    this.makerLeft = new Float64Array(capacity);
  }

  /** Appends a row and returns its index. */
  push(
    type: number,
    taker: number,
    maker: number,
    makerIsOffer: number,
    price: number,
    qty: number,
    left: number,
  ): void {
    if (this.count === this.type.length) this.grow();
    const i = this.count++;
    this.type[i] = type;
    this.taker[i] = taker;
    this.maker[i] = maker;
    this.makerIsOffer[i] = makerIsOffer;
    this.price[i] = price;
    this.qty[i] = qty;
    this.makerLeft[i] = left;
  }

  private grow(): void {
    const c = this.type.length * 2;
    const t = new Uint8Array(c);
    t.set(this.type);
    this.type = t;
    const m = new Uint8Array(c);
    m.set(this.makerIsOffer);
    this.makerIsOffer = m;
    for (const k of ["taker", "maker", "price", "qty", "makerLeft"] as const) {
      const a = new Float64Array(c);
      a.set(this[k]);
      this[k] = a;
    }
  }
}

/** Copies the buffer's rows into effect objects (for the shell; not for the hot path). */
export function readEffects(e: MatchEffects): MatchEffect[] {
  const out: MatchEffect[] = [];
  for (let i = 0; i < e.count; i++) {
    if (e.type[i] === EFFECT_FILL) {
      out.push({
        type: "fill",
        takerId: e.taker[i]!,
        makerId: e.maker[i]!,
        makerIsOffer: e.makerIsOffer[i] === 1,
        price: e.price[i]!,
        qty: e.qty[i]!,
        makerLeft: e.makerLeft[i]!,
      });
    } else {
      out.push({ type: "expired", orderId: e.maker[i]!, qty: e.qty[i]! });
    }
  }
  return out;
}
