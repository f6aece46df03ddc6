/** A market participant's HTTP client: signs its orders and deal answers with its wallet. */
import type { HDNodeWallet, Wallet } from "ethers";
import { TollwayError } from "../../channels/index.ts";
import {
  MARKET_TYPES,
  type MarketDomain,
  marketDomain,
  offerMessage,
  requestMessage,
} from "../market/api/index.ts";
import type { Address, DealId, OfferSpec, RequestSpec } from "../market/types.ts";

/** A deal as the API returns it (amounts as decimal strings). */
export interface DealView {
  readonly id: DealId;
  readonly status: string;
  readonly provider: Address;
  readonly requester: Address;
  readonly price: string;
  readonly quantity: number;
  readonly maxCost: string;
  readonly [key: string]: unknown;
}

/**
 * An API refusal with the market's typed code (a `MarketErrorCode`, or whatever code the server's
 * body names), the HTTP status and the server's reason as the short message.
 */
export class MarketApiError extends TollwayError<string> {
  /** The HTTP status of the refusal. */
  readonly status: number;

  /**
   * @param status - the HTTP status
   * @param code - the body's `code`
   * @param reason - the body's `reason`
   */
  constructor(status: number, code: string, reason: string) {
    super(code, `${code}: ${reason}`, { details: { status } });
    this.name = "MarketApiError";
    this.status = status;
  }
}

export class MarketClient {
  readonly url: string;
  readonly wallet: Wallet | HDNodeWallet;
  readonly domain: MarketDomain;

  constructor(url: string, wallet: Wallet | HDNodeWallet, chainId = 31337) {
    this.url = url;
    this.wallet = wallet;
    this.domain = marketDomain(chainId);
  }

  /** Places a signed offer or request; returns its id and the deals it made at once. */
  async place(spec: OfferSpec | RequestSpec): Promise<{ orderId: string; deals: DealView[] }> {
    const signature =
      spec.side === "offer"
        ? await this.#sign("Offer", offerMessage(spec))
        : await this.#sign("Request", requestMessage(spec));
    return this.#call("POST", "/orders", { order: spec, signature });
  }

  /** Accepts a deal with a signature over its id and maximum cost. */
  async accept(deal: DealView): Promise<DealView> {
    const signature = await this.#sign("AcceptDeal", {
      dealId: deal.id,
      maxCost: BigInt(deal.maxCost),
    });
    return this.#call("POST", `/deals/${deal.id}/accept`, { signature });
  }

  /** The requester reports the deal's channel open on chain. */
  async channelReady(dealId: string, channelId: string): Promise<DealView> {
    const signature = await this.#sign("ChannelReady", { dealId, channelId });
    return this.#call("POST", `/deals/${dealId}/channel`, { channelId, signature });
  }

  /** The provider reports the deal's tunnel up. */
  async tunnelUp(dealId: string): Promise<DealView> {
    const signature = await this.#sign("TunnelUp", { dealId });
    return this.#call("POST", `/deals/${dealId}/tunnel`, { signature });
  }

  /** Deals of an address (default: this wallet). */
  async deals(address = this.wallet.address): Promise<DealView[]> {
    return (
      await this.#call<{ deals: DealView[] }>("GET", `/wallets/${address.toLowerCase()}/deals`)
    ).deals;
  }

  /** Balance (channel capacity) and reserved part of an address (default: this wallet). */
  async walletOf(address = this.wallet.address): Promise<{ balance: string; reserved: string }> {
    return this.#call("GET", `/wallets/${address.toLowerCase()}`);
  }

  async deal(id: string): Promise<DealView> {
    return this.#call("GET", `/deals/${id}`);
  }

  #sign(type: keyof typeof MARKET_TYPES, message: Record<string, unknown>): Promise<string> {
    return this.wallet.signTypedData(this.domain, { [type]: [...MARKET_TYPES[type]] }, message);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body
        ? JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
        : undefined,
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new MarketApiError(res.status, String(json.code), String(json.reason));
    return json as T;
  }
}
