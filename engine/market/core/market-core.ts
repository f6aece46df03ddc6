/**
 * The market's state machine: order book, deal book, wallets and profiles behind one
 * `apply(command, now)`. Deterministic — no clock, no randomness, no I/O — so the journal can
 * rebuild it by replaying the commands it accepted, with the times they were accepted at.
 *
 * Commands arrive already authenticated (the API layer recovered the signer off the event
 * loop); the core still checks that the signer may do what it asks, that no signed message is
 * used twice and that nothing has expired. A refused command returns a rejection and changes
 * nothing.
 */
import { reject } from "../../../channels/index.ts";
import { IP_CLASSES, KINDS, PRICE_UNITS, PROTOCOLS, type Protocol } from "../book/attributes.ts";
import { EFFECT_FILL, type MatchEffects } from "../book/match-effects.ts";
import {
  type BookOrderView,
  Matcher,
  type MatcherImage,
  type MatcherRejection,
  type OfferInput,
  type RequestInput,
} from "../book/matcher.ts";
import {
  type Deal,
  type DealContext,
  type DealEffect,
  type DealInput,
  type DealStatus,
  type DealTimeouts,
  dealTransition,
  isTerminal,
  nextTimeout,
  type Party,
  proposeDeal,
} from "../deals/deal-protocol.ts";
import {
  addRating,
  emptyProfile,
  type Profile,
  ratingMilli,
  recordOutcome,
} from "../profiles/profile.ts";
import type {
  Address,
  DealId,
  MarketRejection,
  MarketResult,
  OrderId,
  OrderSpec,
} from "../types.ts";
import { emptyWallet, release, reserve, setBalance, type Wallet } from "../wallets/wallet.ts";
import { encodeOffer, encodeRequest, Interner } from "./order-codec.ts";

/** Everything the market accepts. Signed ones carry the digest that was signed. */
export type MarketCommand =
  | {
      readonly type: "PlaceOrder";
      readonly id: OrderId;
      readonly spec: OrderSpec;
      /**
       * Most orders the owner may have resting in the book for this one to be placed; the
       * shell sets it from its options, and it travels in the journal so that replay decides
       * as the first run did whatever the options are by then.
       */
      readonly maxRestingPerOwner?: number;
    }
  | {
      readonly type: "AmendOrder";
      readonly digest: string;
      readonly orderId: OrderId;
      readonly signer: Address;
      readonly price: bigint;
      readonly quantity: number;
      readonly expiry: number;
    }
  | {
      readonly type: "CancelOrder";
      readonly digest: string;
      readonly orderId: OrderId;
      readonly signer: Address;
      readonly expiry: number;
    }
  | {
      readonly type: "AcceptDeal";
      readonly digest: string;
      readonly dealId: DealId;
      readonly signer: Address;
    }
  | {
      readonly type: "RejectDeal";
      readonly digest: string;
      readonly dealId: DealId;
      readonly signer: Address;
      readonly reason: string;
    }
  | {
      readonly type: "RateDeal";
      readonly digest: string;
      readonly dealId: DealId;
      readonly signer: Address;
      readonly score: number;
    }
  | { readonly type: "ChannelReady"; readonly dealId: DealId }
  | { readonly type: "TunnelUp"; readonly dealId: DealId }
  | {
      readonly type: "ReportUsage";
      readonly dealId: DealId;
      readonly paid: bigint;
      readonly bytes: number;
    }
  | {
      readonly type: "TearDown";
      readonly dealId: DealId;
      readonly by: Party;
      readonly reason: string;
      readonly paid: bigint;
      readonly bytes: number;
    }
  | { readonly type: "SetBalance"; readonly address: Address; readonly balance: bigint }
  | { readonly type: "Tick" };

/** What happened, for the push stream and the caller. `to` lists the wallets to tell. */
export type MarketEvent =
  | {
      readonly type: "OrderPlaced";
      readonly orderId: OrderId;
      readonly to: readonly Address[];
      readonly open: number;
    }
  | {
      readonly type: "OrderChanged";
      readonly orderId: OrderId;
      readonly to: readonly Address[];
      readonly status: OrderStatus;
      readonly open: number;
    }
  | { readonly type: "Matched"; readonly deal: Deal; readonly to: readonly Address[] }
  | {
      readonly type: "DealStatus";
      readonly deal: Deal;
      readonly from: DealStatus;
      readonly status: DealStatus;
      readonly reason: string;
      readonly to: readonly Address[];
    };

/** Lifecycle of an order record. */
export type OrderStatus = "open" | "filled" | "cancelled" | "expired";

/** An order as the market keeps it. */
export interface OrderRecord {
  readonly id: OrderId;
  readonly spec: OrderSpec;
  readonly status: OrderStatus;
  /** Quantity open in the book now. */
  readonly open: number;
  /** Quantity that went into deals. */
  readonly matched: number;
  /** Current price (amends change it). */
  readonly price: bigint;
}

/** Settings of the market. */
export interface MarketConfig {
  readonly commissionBps?: number;
  readonly timeouts?: Partial<DealTimeouts>;
  /** Order slots to pre-allocate in the book. */
  readonly capacity?: number;
}

/** A book query. Empty lists mean any. */
export interface BookQuery {
  readonly side: "offer" | "request";
  readonly kind: string;
  readonly priceUnit: string;
  readonly countries: readonly string[];
  readonly regions: readonly string[];
  readonly asns: readonly number[];
  readonly ipClasses: readonly string[];
  readonly protocols: readonly string[];
  readonly minBandwidthMbps: number;
  readonly minRatingMilli: number;
  readonly maxPrice: bigint;
  readonly durationS: number;
  readonly limit: number;
}

/** One row of a book query. */
export interface BookRow {
  readonly orderId: OrderId;
  readonly side: "offer" | "request";
  readonly owner: Address;
  readonly price: bigint;
  readonly open: number;
  readonly spec: OrderSpec;
}

/**
 * The core's whole state, as {@link MarketCore.image} copies it: what a journal snapshot holds.
 * What can be derived (orders by matcher id, open deals, deals by party) is rebuilt on load.
 */
export interface MarketCoreImage {
  readonly matcher: MatcherImage;
  /** Interned owner addresses, in the order they were numbered. */
  readonly owners: readonly string[];
  /** Interned region names, in the order they were numbered. */
  readonly regions: readonly string[];
  /** Order records, oldest first. */
  readonly orders: readonly (OrderRecord & { readonly matcherId: number })[];
  /** Deals, oldest first. */
  readonly deals: readonly Deal[];
  readonly wallets: readonly Wallet[];
  readonly profiles: readonly Profile[];
  /** Used signed-message digests, with the time they stop mattering (ms). */
  readonly seen: readonly (readonly [string, number])[];
  readonly dealSeq: number;
}

interface MutableOrder {
  id: OrderId;
  spec: OrderSpec;
  status: OrderStatus;
  open: number;
  matched: number;
  price: bigint;
  /** The order's id in the matcher while it rests there, else -1. */
  matcherId: number;
}

const DEFAULT_TIMEOUTS: DealTimeouts = { acceptMs: 30_000, activateMs: 60_000 };

/**
 * The market core.
 *
 * @example
 * const core = new MarketCore({ commissionBps: 100 });
 * const r = core.apply({ type: "PlaceOrder", id, spec }, Date.now());
 * if (r.ok) for (const e of r.value) push(e);
 */
export class MarketCore {
  private readonly matcher: Matcher;
  private readonly owners = new Interner(0);
  private readonly regions = new Interner(1);
  private readonly orders = new Map<OrderId, MutableOrder>();
  private readonly byMatcherId = new Map<number, MutableOrder>();
  /** Orders resting in the book, per owner (what the per-owner cap counts). */
  private readonly restingByOwner = new Map<Address, number>();
  private readonly deals = new Map<DealId, Deal>();
  private readonly openDeals = new Set<DealId>();
  private readonly dealsByParty = new Map<Address, DealId[]>();
  private readonly wallets = new Map<Address, Wallet>();
  private readonly profiles = new Map<Address, Profile>();
  /** Digests of signed messages already used, with the time they stop mattering (ms). */
  private readonly seen = new Map<string, number>();
  private dealSeq = 0;
  private readonly commissionBps: number;
  private readonly timeouts: DealTimeouts;

  constructor(config: MarketConfig = {}) {
    this.commissionBps = config.commissionBps ?? 0;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...config.timeouts };
    this.matcher = new Matcher({ capacity: config.capacity ?? 1 << 16 });
  }

  /**
   * Applies one command at time `now` (ms).
   * @returns the events it caused, or a rejection (see {@link MarketErrorCode}) that changed nothing.
   */
  apply(cmd: MarketCommand, now: number): MarketResult<MarketEvent[]> {
    const events: MarketEvent[] = [];
    const r = this.dispatch(cmd, now, events);
    return r ?? { ok: true, value: events };
  }

  /**
   * Builds the core an {@link image} was taken of: it answers every later command exactly as
   * the original would.
   */
  static fromImage(config: MarketConfig, img: MarketCoreImage): MarketCore {
    const core = new MarketCore(config);
    core.matcher.load(img.matcher);
    for (const name of img.owners) core.owners.intern(name);
    for (const name of img.regions) core.regions.intern(name);
    for (const o of img.orders) {
      const m: MutableOrder = { ...o };
      core.orders.set(m.id, m);
      if (m.matcherId >= 0) {
        m.matcherId = -1;
        core.rest(m, o.matcherId);
      }
    }
    for (const d of img.deals) {
      core.deals.set(d.id, d);
      if (!isTerminal(d.status)) core.openDeals.add(d.id);
      for (const a of new Set([d.provider, d.requester])) {
        let list = core.dealsByParty.get(a);
        if (!list) {
          list = [];
          core.dealsByParty.set(a, list);
        }
        list.push(d.id);
      }
    }
    for (const w of img.wallets) core.wallets.set(w.address, w);
    for (const p of img.profiles) core.profiles.set(p.address, p);
    for (const [digest, until] of img.seen) core.seen.set(digest, until);
    core.dealSeq = img.dealSeq;
    return core;
  }

  /** A copy of the whole state (see {@link MarketCoreImage}); the core is left as it was. */
  image(): MarketCoreImage {
    return {
      matcher: this.matcher.image(),
      owners: this.owners.all(),
      regions: this.regions.all(),
      orders: [...this.orders.values()].map((o) => ({ ...o })),
      deals: [...this.deals.values()],
      wallets: [...this.wallets.values()],
      profiles: [...this.profiles.values()],
      seen: [...this.seen],
      dealSeq: this.dealSeq,
    };
  }

  /**
   * Whether a `Tick` at `now` would change anything (a deal timed out or an order expired):
   * the shell journals a tick only when it would.
   */
  tickDue(now: number): boolean {
    for (const id of this.openDeals) if (now >= nextTimeout(this.deals.get(id)!)) return true;
    return this.matcher.expiryDue(now);
  }

  // ---- reads ------------------------------------------------------------------------------

  /** An order record, or undefined. */
  order(id: string): OrderRecord | undefined {
    const o = this.orders.get(id as OrderId);
    return o ? snapshot(o) : undefined;
  }

  /** A deal, or undefined. */
  deal(id: string): Deal | undefined {
    return this.deals.get(id as DealId);
  }

  /** Deals a wallet is a party to, oldest first. */
  dealsOf(address: Address): Deal[] {
    return (this.dealsByParty.get(address) ?? []).map((id) => this.deals.get(id)!);
  }

  /** A wallet's funds (zero when never seen). */
  wallet(address: Address): Wallet {
    return this.wallets.get(address) ?? emptyWallet(address);
  }

  /** A provider's profile, or undefined when it never offered anything. */
  profile(address: Address): (Profile & { readonly ratingMilli: number }) | undefined {
    const p = this.profiles.get(address);
    return p ? { ...p, ratingMilli: ratingMilli(p) } : undefined;
  }

  /** Resting orders by filter, best first. Offers come in the order a request would fill them. */
  book(q: BookQuery, now: number): MarketResult<BookRow[]> {
    const limit = Math.max(1, Math.min(q.limit, 500));
    let views: BookOrderView[];
    if (q.side === "offer") {
      // The query's names come from a URL: any that is not one of ours is refused, as the codec
      // refuses it in an order.
      const kind = memberOf(KINDS, q.kind);
      const priceUnit = memberOf(PRICE_UNITS, q.priceUnit);
      const ipClasses = membersOf(IP_CLASSES, q.ipClasses);
      const protocols = membersOf(PROTOCOLS, q.protocols);
      if (!kind || !priceUnit || !ipClasses || !protocols)
        return reject("INVALID_ATTRIBUTE", "a request filter is unknown or out of range");
      const filter = encodeRequest(
        {
          side: "request",
          owner: "0x0000000000000000000000000000000000000000",
          kind,
          priceUnit,
          countries: q.countries,
          regions: q.regions.filter((r) => this.regions.lookup(r) !== undefined),
          asns: q.asns,
          ipClasses,
          protocols,
          minBandwidthMbps: q.minBandwidthMbps,
          minRatingMilli: q.minRatingMilli,
          minCompletedDeals: 0,
          maxPrice: q.maxPrice,
          durationS: q.durationS,
          stickyS: 0,
          exitPolicy: "replace",
          quantity: 1,
          volumeGib: 1,
          nonce: 0n,
          expiry: Math.floor(now / 1000) + 1,
        },
        0,
        new Interner(1),
      );
      if (!filter.ok) return filter;
      // Region names map to this market's numbers, not the scratch interner's.
      const f: RequestInput = {
        ...filter.value,
        regions: q.regions.map((r) => this.regions.lookup(r) ?? -1).filter((r) => r > 0),
        exitPolicy: 1,
      };
      if (q.regions.length > 0 && f.regions.length === 0) return { ok: true, value: [] };
      views = this.matcher.queryOffers(f, now, limit);
    } else {
      const kind = ["ip", "tunnel", "fastlane"].indexOf(q.kind);
      const unit = ["second", "gib"].indexOf(q.priceUnit);
      if (kind < 0 || unit < 0) return reject("INVALID_ATTRIBUTE", "unknown kind or unit");
      views = this.matcher.queryRequests(kind, unit, now, Number.MAX_SAFE_INTEGER);
    }
    const rows: BookRow[] = [];
    for (const v of views) {
      if (rows.length >= limit) break;
      const o = this.byMatcherId.get(v.id);
      if (!o) continue;
      // Requests are listed by kind and unit; keep those that could take an offer from the
      // countries asked for.
      if (o.spec.side === "request" && q.countries.length > 0 && o.spec.countries.length > 0) {
        if (!o.spec.countries.some((c) => q.countries.includes(c))) continue;
      }
      rows.push({
        orderId: o.id,
        side: o.spec.side,
        owner: o.spec.owner,
        price: o.price,
        open: v.qty,
        spec: o.spec,
      });
    }
    return { ok: true, value: rows };
  }

  /** Orders an owner has resting in the book. */
  restingOf(owner: Address): number {
    return this.restingByOwner.get(owner) ?? 0;
  }

  /** Live orders in the book. */
  get bookSize(): number {
    return this.matcher.size;
  }

  /** A digest of the whole state, for replay tests: equal states give equal strings. */
  fingerprint(): string {
    const orders = [...this.orders.values()].map((o) => [
      o.id,
      o.status,
      o.open,
      o.matched,
      String(o.price),
      o.matcherId,
    ]);
    const book = this.matcher.liveIds().map((id) => {
      const v = this.matcher.order(id)!;
      return [id, v.price, v.qty, v.seq];
    });
    return JSON.stringify(
      {
        orders,
        book,
        deals: [...this.deals.values()],
        wallets: [...this.wallets.values()],
        profiles: [...this.profiles.values()],
        dealSeq: this.dealSeq,
      },
      (_k, v) => (typeof v === "bigint" ? `${v}n` : v),
    );
  }

  // ---- commands ---------------------------------------------------------------------------

  private dispatch(
    cmd: MarketCommand,
    now: number,
    ev: MarketEvent[],
  ): MarketRejection | undefined {
    switch (cmd.type) {
      case "PlaceOrder":
        return this.place(
          cmd.id,
          cmd.spec,
          now,
          ev,
          typeof cmd.maxRestingPerOwner === "number" ? cmd.maxRestingPerOwner : undefined,
        );
      case "AmendOrder": {
        const bad = this.fresh(cmd.digest, cmd.expiry, now);
        if (bad) return bad;
        const o = this.orders.get(cmd.orderId);
        if (o?.status !== "open" || o.matcherId < 0) {
          return reject("ORDER_NOT_FOUND", `no open order ${cmd.orderId}`);
        }
        if (o.spec.owner !== cmd.signer) return reject("WRONG_SIGNER", "only the owner may amend");
        const price = toNumber(cmd.price);
        if (price === undefined) return reject("INVALID_PRICE", "price out of range");
        const r = this.matcher.amend(o.matcherId, price, cmd.quantity, now);
        if (typeof r !== "number") return r;
        this.remember(cmd.digest, cmd.expiry);
        o.price = cmd.price;
        this.afterTaker(o, now, ev);
        ev.push({
          type: "OrderChanged",
          orderId: o.id,
          to: [o.spec.owner],
          status: o.status,
          open: o.open,
        });
        return undefined;
      }
      case "CancelOrder": {
        const bad = this.fresh(cmd.digest, cmd.expiry, now);
        if (bad) return bad;
        const o = this.orders.get(cmd.orderId);
        if (o?.status !== "open") return reject("ORDER_NOT_FOUND", `no open order ${cmd.orderId}`);
        if (o.spec.owner !== cmd.signer) return reject("WRONG_SIGNER", "only the owner may cancel");
        if (o.matcherId >= 0) this.matcher.cancel(o.matcherId);
        this.leave(o);
        this.remember(cmd.digest, cmd.expiry);
        o.open = 0;
        o.status = "cancelled";
        ev.push({
          type: "OrderChanged",
          orderId: o.id,
          to: [o.spec.owner],
          status: "cancelled",
          open: 0,
        });
        return undefined;
      }
      case "AcceptDeal":
      case "RejectDeal": {
        // Both parties sign the same message: a use is one (digest, signer) pair.
        const used = `${cmd.digest}:${cmd.signer}`;
        if (this.seen.has(used)) return reject("REPLAYED", "this signature was already used");
        const deal = this.deals.get(cmd.dealId);
        if (!deal) return reject("DEAL_NOT_FOUND", `no deal ${cmd.dealId}`);
        const party = partyOf(deal, cmd.signer);
        if (!party) return reject("NOT_A_PARTY", "the signer is not a party to the deal");
        const input: DealInput =
          cmd.type === "AcceptDeal"
            ? { type: "ReceiveAccept", party }
            : { type: "ReceiveReject", party, reason: cmd.reason };
        let wallet: Wallet | undefined;
        if (
          cmd.type === "AcceptDeal" &&
          party === "requester" &&
          deal.status === "proposed" &&
          !deal.requesterAccepted
        ) {
          // Accepting reserves the deal's maximum cost: no one can promise more than it holds.
          const r = reserve(this.wallet(deal.requester), deal.maxCost);
          if (!r.ok) return r;
          wallet = r.value;
        }
        const bad = this.runDeal(deal, input, now, ev, () => {
          if (wallet) this.wallets.set(wallet.address, wallet);
          this.seen.set(used, Number.MAX_SAFE_INTEGER);
        });
        return bad;
      }
      case "RateDeal": {
        const used = `${cmd.digest}:${cmd.signer}`;
        if (this.seen.has(used)) return reject("REPLAYED", "this signature was already used");
        const deal = this.deals.get(cmd.dealId);
        if (!deal) return reject("DEAL_NOT_FOUND", `no deal ${cmd.dealId}`);
        if (deal.requester !== cmd.signer) return reject("NOT_A_PARTY", "only the requester rates");
        if (!Number.isInteger(cmd.score) || cmd.score < 1 || cmd.score > 5) {
          return reject("INVALID_ATTRIBUTE", "score must be 1..5");
        }
        if (
          deal.status === "rejected" ||
          deal.status === "expired" ||
          (deal.status === "failed" && deal.activeAt < 0)
        ) {
          return reject("BAD_DEAL_STATE", "only a deal that ran can be rated");
        }
        return this.runDeal(deal, { type: "ActionRated" }, now, ev, () => {
          this.seen.set(used, Number.MAX_SAFE_INTEGER);
          const p = addRating(this.profileOf(deal.provider), cmd.score);
          this.setProfile(p);
        });
      }
      case "ChannelReady":
      case "TunnelUp":
      case "ReportUsage":
      case "TearDown": {
        const deal = this.deals.get(cmd.dealId);
        if (!deal) return reject("DEAL_NOT_FOUND", `no deal ${cmd.dealId}`);
        const input: DealInput =
          cmd.type === "ChannelReady"
            ? { type: "ActionChannelReady" }
            : cmd.type === "TunnelUp"
              ? { type: "ActionTunnelUp" }
              : cmd.type === "ReportUsage"
                ? { type: "ActionUsage", paid: cmd.paid, bytes: cmd.bytes }
                : {
                    type: "ActionTornDown",
                    by: cmd.by,
                    reason: cmd.reason,
                    paid: cmd.paid,
                    bytes: cmd.bytes,
                  };
        return this.runDeal(deal, input, now, ev);
      }
      case "SetBalance": {
        if (cmd.balance < 0n) return reject("INVALID_QUANTITY", "negative balance");
        this.wallets.set(cmd.address, setBalance(this.wallet(cmd.address), cmd.balance));
        this.enforceCapacity(cmd.address, now, ev);
        return undefined;
      }
      case "Tick": {
        this.tick(now, ev);
        return undefined;
      }
    }
  }

  private place(
    id: OrderId,
    spec: OrderSpec,
    now: number,
    ev: MarketEvent[],
    maxResting = Number.POSITIVE_INFINITY,
  ): MarketRejection | undefined {
    if (this.orders.has(id) || this.seen.has(id))
      return reject("REPLAYED", "this order was already placed");
    if (!(spec.expiry * 1000 > now)) return reject("SIGNATURE_EXPIRED", "the order has expired");
    // One key must not fill the book: past its cap an owner cancels or waits for fills first.
    if (this.restingOf(spec.owner) >= maxResting)
      return reject(
        "OWNER_ORDER_LIMIT",
        `the owner already has ${maxResting} orders resting in the book`,
      );
    const ownerIdx = this.owners.lookup(spec.owner) ?? this.owners.intern(spec.owner);
    const enc = encodeOrder(spec, ownerIdx, this.regions);
    if (!enc.ok) return enc;
    const o: MutableOrder = {
      id,
      spec,
      status: "open",
      open: 0,
      matched: 0,
      price: spec.side === "offer" ? spec.price : spec.maxPrice,
      matcherId: -1,
    };
    if (spec.side === "offer" && !this.profiles.has(spec.owner))
      this.setProfile(emptyProfile(spec.owner));
    const r = this.placeEncoded(enc.value, now);
    if (typeof r !== "number") return r;
    this.orders.set(id, o);
    this.remember(id, spec.expiry);
    this.rest(o, r);
    this.afterTaker(o, now, ev);
    ev.push({ type: "OrderPlaced", orderId: id, to: [spec.owner], open: o.open });
    return undefined;
  }

  /** Places an encoded order in the matcher: its matcher id, or why it was refused. */
  private placeEncoded(enc: EncodedOrder, now: number): number | MatcherRejection {
    return enc.side === "offer"
      ? this.matcher.placeOffer(enc.input, now)
      : this.matcher.placeRequest(enc.input, now);
  }

  /** Reads the matcher's effects for the order just placed or amended and makes deals. */
  private afterTaker(o: MutableOrder, now: number, ev: MarketEvent[]): void {
    const out = this.matcher.out;
    const fills = collectFills(out);
    o.open = this.matcher.takerLeft;
    if (o.open === 0) {
      this.leave(o);
      o.status = "filled";
    }
    for (const f of fills) {
      if (f.type === "expired") {
        const m = this.byMatcherId.get(f.id);
        if (m) this.expireOrder(m, ev);
        continue;
      }
      const maker = this.byMatcherId.get(f.maker)!;
      maker.open = f.makerLeft;
      maker.matched += f.qty;
      o.matched += f.qty;
      if (f.makerLeft === 0) {
        this.leave(maker);
        maker.status = "filled";
      }
      const offer = f.makerIsOffer ? maker : o;
      const request = f.makerIsOffer ? o : maker;
      this.createDeal(offer, request, f.price, f.qty, now, ev);
    }
  }

  private createDeal(
    offer: MutableOrder,
    request: MutableOrder,
    price: number,
    qty: number,
    now: number,
    ev: MarketEvent[],
  ): void {
    const os = offer.spec as Extract<OrderSpec, { side: "offer" }>;
    const rs = request.spec as Extract<OrderSpec, { side: "request" }>;
    const id = `d-${++this.dealSeq}` as DealId;
    const common = PROTOCOLS.filter(
      (p) => os.protocols.includes(p) && (rs.protocols.length === 0 || rs.protocols.includes(p)),
    );
    const { deal } = proposeDeal(
      {
        id,
        offerId: offer.id,
        requestId: request.id,
        provider: os.owner,
        requester: rs.owner,
        kind: os.kind,
        priceUnit: os.priceUnit,
        protocol: (common[0] ?? os.protocols[0]) as Protocol,
        price: BigInt(price),
        quantity: qty,
        durationS: rs.durationS,
        volumeGib: rs.priceUnit === "gib" ? rs.volumeGib : 0,
        commissionBps: this.commissionBps,
      },
      this.ctx(now),
    );
    this.deals.set(id, deal);
    this.openDeals.add(id);
    for (const a of new Set([deal.provider, deal.requester])) {
      let list = this.dealsByParty.get(a);
      if (!list) {
        list = [];
        this.dealsByParty.set(a, list);
      }
      list.push(id);
    }
    ev.push({ type: "Matched", deal, to: [deal.provider, deal.requester] });
  }

  /** Runs a deal transition and carries out its effects; `commit` runs only on success. */
  private runDeal(
    deal: Deal,
    input: DealInput,
    now: number,
    ev: MarketEvent[],
    commit?: () => void,
  ): MarketRejection | undefined {
    const t = dealTransition(deal, input, this.ctx(now));
    if (!t.ok) return t;
    commit?.();
    this.deals.set(deal.id, t.deal);
    if (isTerminal(t.deal.status)) this.openDeals.delete(deal.id);
    this.effects(t.effects, now, ev);
    return undefined;
  }

  private effects(effects: readonly DealEffect[], now: number, ev: MarketEvent[]): void {
    for (const e of effects) {
      switch (e.type) {
        case "NotifyDealStatus":
          ev.push({
            type: "DealStatus",
            deal: e.deal,
            from: e.from,
            status: e.to,
            reason: e.reason,
            to: [e.deal.provider, e.deal.requester],
          });
          break;
        case "ReleaseFunds":
          this.wallets.set(e.requester, release(this.wallet(e.requester), e.reserved, e.spent));
          break;
        case "RecordHistory":
          this.setProfile(recordOutcome(this.profileOf(e.provider), e.outcome, e.bytes, e.uptimeS));
          break;
        case "RestoreQuantity":
          this.restore(e.orderId, e.quantity, now, ev);
          break;
      }
    }
  }

  /** Gives a deal's unused quantity back to its order: in place if it rests, else re-placed. */
  private restore(id: OrderId, qty: number, now: number, ev: MarketEvent[]): void {
    const o = this.orders.get(id);
    if (!o || o.status === "cancelled" || o.status === "expired") return;
    if (!(o.spec.expiry * 1000 > now)) return;
    o.matched -= qty;
    if (o.matcherId >= 0) {
      const r = this.matcher.restore(o.matcherId, qty);
      if (typeof r === "number") o.open = r;
    } else {
      const ownerIdx = this.owners.lookup(o.spec.owner)!;
      const spec = {
        ...o.spec,
        quantity: qty,
        ...(o.spec.side === "offer" ? { price: o.price } : { maxPrice: o.price }),
      } as OrderSpec;
      const enc = encodeOrder(spec, ownerIdx, this.regions);
      if (!enc.ok) return;
      const r = this.placeEncoded(enc.value, now);
      if (typeof r !== "number") return;
      o.status = "open";
      this.rest(o, r);
      this.afterTaker(o, now, ev);
    }
    ev.push({
      type: "OrderChanged",
      orderId: o.id,
      to: [o.spec.owner],
      status: o.status,
      open: o.open,
    });
  }

  private tick(now: number, ev: MarketEvent[]): void {
    for (const id of [...this.openDeals]) {
      const deal = this.deals.get(id)!;
      this.runDeal(deal, { type: "ActionTick" }, now, ev);
    }
    this.matcher.expire(now);
    for (const f of collectFills(this.matcher.out)) {
      if (f.type !== "expired") continue;
      const o = this.byMatcherId.get(f.id);
      if (o) this.expireOrder(o, ev);
    }
  }

  /**
   * Forgets the digests of signed messages that have expired (they are refused by their expiry
   * anyway). Changes no outcome, so the shell may run it without journaling it.
   */
  compact(now: number): void {
    for (const [digest, until] of this.seen) if (until <= now) this.seen.delete(digest);
    this.matcher.pruneExpiryWheel(now);
  }

  /** Records that an order rests in the matcher under `matcherId`. */
  private rest(o: MutableOrder, matcherId: number): void {
    o.matcherId = matcherId;
    this.byMatcherId.set(matcherId, o);
    const owner = o.spec.owner;
    this.restingByOwner.set(owner, (this.restingByOwner.get(owner) ?? 0) + 1);
  }

  /** Records that an order no longer rests in the matcher (a no-op when it did not). */
  private leave(o: MutableOrder): void {
    if (o.matcherId < 0) return;
    this.byMatcherId.delete(o.matcherId);
    o.matcherId = -1;
    const owner = o.spec.owner;
    const n = (this.restingByOwner.get(owner) ?? 1) - 1;
    if (n > 0) this.restingByOwner.set(owner, n);
    else this.restingByOwner.delete(owner);
  }

  private expireOrder(o: MutableOrder, ev: MarketEvent[]): void {
    this.leave(o);
    o.open = 0;
    o.status = "expired";
    ev.push({
      type: "OrderChanged",
      orderId: o.id,
      to: [o.spec.owner],
      status: "expired",
      open: 0,
    });
  }

  /** When a wallet's channels shrink under its reservations, its newest not-yet-active deals fail. */
  private enforceCapacity(address: Address, now: number, ev: MarketEvent[]): void {
    const ids = [...(this.dealsByParty.get(address) ?? [])].reverse();
    for (const id of ids) {
      const w = this.wallet(address);
      if (w.reserved <= w.balance) return;
      const d = this.deals.get(id)!;
      if (d.requester !== address || d.status !== "accepted") continue;
      const failed: Deal = { ...d, activateBy: now };
      this.deals.set(id, failed);
      this.runDeal(failed, { type: "ActionTick" }, now, ev);
    }
  }

  private fresh(digest: string, expiry: number, now: number): MarketRejection | undefined {
    if (this.seen.has(digest)) return reject("REPLAYED", "this signature was already used");
    if (!(expiry * 1000 > now))
      return reject("SIGNATURE_EXPIRED", "the signed message has expired");
    return undefined;
  }

  private remember(digest: string, expiry: number): void {
    // Past its expiry a message is refused anyway, so the digest can be forgotten then.
    this.seen.set(digest, expiry * 1000);
  }

  private profileOf(address: Address): Profile {
    return this.profiles.get(address) ?? emptyProfile(address);
  }

  private setProfile(p: Profile): void {
    this.profiles.set(p.address, p);
    const owner = this.owners.lookup(p.address) ?? this.owners.intern(p.address);
    this.matcher.setProviderStats(owner, ratingMilli(p), p.dealsCompleted);
  }

  private ctx(now: number): DealContext {
    return { now, timeouts: this.timeouts };
  }
}

type Row =
  | {
      type: "fill";
      maker: number;
      makerIsOffer: boolean;
      price: number;
      qty: number;
      makerLeft: number;
    }
  | { type: "expired"; id: number };

/** An order encoded for the matcher, tagged with its side so that each reaches its own call. */
type EncodedOrder =
  | { readonly side: "offer"; readonly input: OfferInput }
  | { readonly side: "request"; readonly input: RequestInput };

function encodeOrder(
  spec: OrderSpec,
  owner: number,
  regions: Interner,
): MarketResult<EncodedOrder> {
  if (spec.side === "offer") {
    const enc = encodeOffer(spec, owner, regions);
    return enc.ok ? { ok: true, value: { side: "offer", input: enc.value } } : enc;
  }
  const enc = encodeRequest(spec, owner, regions);
  return enc.ok ? { ok: true, value: { side: "request", input: enc.value } } : enc;
}

/** `name` as one of `names`, or undefined. */
function memberOf<T extends string>(names: readonly T[], name: string): T | undefined {
  return names.find((n) => n === name);
}

/** Every one of `given` as one of `names`, or undefined when one is not. */
function membersOf<T extends string>(
  names: readonly T[],
  given: readonly string[],
): T[] | undefined {
  const out: T[] = [];
  for (const g of given) {
    const m = memberOf(names, g);
    if (m === undefined) return undefined;
    out.push(m);
  }
  return out;
}

function collectFills(out: MatchEffects): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < out.count; i++) {
    if (out.type[i] === EFFECT_FILL) {
      rows.push({
        type: "fill",
        maker: out.maker[i]!,
        makerIsOffer: out.makerIsOffer[i] === 1,
        price: out.price[i]!,
        qty: out.qty[i]!,
        makerLeft: out.makerLeft[i]!,
      });
    } else rows.push({ type: "expired", id: out.maker[i]! });
  }
  return rows;
}

function partyOf(deal: Deal, signer: Address): Party | undefined {
  if (signer === deal.provider) return "provider";
  if (signer === deal.requester) return "requester";
  return undefined;
}

function toNumber(v: bigint): number | undefined {
  return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

function snapshot(o: MutableOrder): OrderRecord {
  return {
    id: o.id,
    spec: o.spec,
    status: o.status,
    open: o.open,
    matched: o.matched,
    price: o.price,
  };
}
