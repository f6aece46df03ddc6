/**
 * A slow matcher that is obviously right: resting orders in a plain array, every incoming
 * order sorts the compatible counter-orders by (price, arrival) and fills them in turn.
 * Property tests check the fast matcher against it.
 */
import type { OfferInput, RequestInput } from "../../../../engine/market/book/index.ts";

export interface RefOrder {
  readonly ref: number;
  readonly side: "offer" | "request";
  readonly input: OfferInput | RequestInput;
  price: number;
  qty: number;
  seq: number;
}

export interface RefFill {
  readonly taker: number;
  readonly maker: number;
  readonly price: number;
  readonly qty: number;
}

/** Whether an offer satisfies a request, written straight from the definitions. */
export function refCompatible(
  r: RequestInput,
  o: OfferInput,
  ratings: ReadonlyMap<number, { rating: number; completed: number }>,
): boolean {
  const stats = ratings.get(o.owner) ?? { rating: -1, completed: 0 };
  return (
    r.kind === o.kind &&
    r.unit === o.unit &&
    r.owner !== o.owner &&
    (r.countries.length === 0 || r.countries.includes(o.country)) &&
    (r.regions.length === 0 || r.regions.includes(o.region)) &&
    (r.asns.length === 0 || r.asns.includes(o.asn)) &&
    (r.ipClasses === 0 || (r.ipClasses & o.ipClass) !== 0) &&
    (r.protocols === 0 || (r.protocols & o.protocols) !== 0) &&
    (r.exitPolicy & o.exitPolicies) !== 0 &&
    o.bandwidthMbps >= r.minBandwidthMbps &&
    o.minDurationS <= r.durationS &&
    r.durationS <= o.maxDurationS &&
    o.maxStickyS >= r.stickyS &&
    (r.minRatingMilli === 0 || stats.rating >= r.minRatingMilli) &&
    (r.minCompletedDeals === 0 || stats.completed >= r.minCompletedDeals)
  );
}

export class ReferenceMatcher {
  resting: RefOrder[] = [];
  ratings = new Map<number, { rating: number; completed: number }>();
  private seq = 0;
  private nextRef = 1;

  place(
    side: "offer" | "request",
    input: OfferInput | RequestInput,
    now: number,
  ): { ref: number; fills: RefFill[]; left: number } {
    this.resting = this.resting.filter((o) => o.input.expiresAt > now);
    const price = side === "offer" ? (input as OfferInput).price : (input as RequestInput).maxPrice;
    const order: RefOrder = {
      ref: this.nextRef++,
      side,
      input,
      price,
      qty: input.quantity,
      seq: ++this.seq,
    };
    const fills = this.match(order);
    if (order.qty > 0) this.resting.push(order);
    return { ref: order.ref, fills, left: order.qty };
  }

  cancel(ref: number): number | undefined {
    const i = this.resting.findIndex((o) => o.ref === ref);
    if (i < 0) return undefined;
    const [o] = this.resting.splice(i, 1);
    return o!.qty;
  }

  amend(
    ref: number,
    price: number,
    qty: number,
    now: number,
  ): { fills: RefFill[]; left: number } | undefined {
    this.resting = this.resting.filter((o) => o.input.expiresAt > now);
    const o = this.resting.find((x) => x.ref === ref);
    if (!o) return undefined;
    if (price === o.price && qty <= o.qty) {
      o.qty = qty;
      return { fills: [], left: qty };
    }
    this.resting.splice(this.resting.indexOf(o), 1);
    o.price = price;
    o.qty = qty;
    o.seq = ++this.seq;
    const fills = this.match(o);
    if (o.qty > 0) this.resting.push(o);
    return { fills, left: o.qty };
  }

  private match(t: RefOrder): RefFill[] {
    const fills: RefFill[] = [];
    const counter = this.resting
      .filter((m) => m.side !== t.side)
      .filter((m) =>
        t.side === "request"
          ? m.price <= t.price &&
            refCompatible(t.input as RequestInput, m.input as OfferInput, this.ratings)
          : m.price >= t.price &&
            refCompatible(m.input as RequestInput, t.input as OfferInput, this.ratings),
      )
      .sort(
        (a, b) => (t.side === "request" ? a.price - b.price : b.price - a.price) || a.seq - b.seq,
      );
    for (const m of counter) {
      if (t.qty === 0) break;
      const q = Math.min(t.qty, m.qty);
      t.qty -= q;
      m.qty -= q;
      fills.push({ taker: t.ref, maker: m.ref, price: m.price, qty: q });
    }
    this.resting = this.resting.filter((m) => m.qty > 0);
    return fills;
  }
}
