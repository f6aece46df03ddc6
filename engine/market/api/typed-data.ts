/**
 * EIP-712 typed data of the market: orders, amends, cancels, deal answers and ratings.
 *
 * Domain: `{ name: "tollway-market", version: "1", chainId }` (default chain 31337), plus
 * `verifyingContract` when the market is configured with an address. Orders are flat structs of
 * strings, addresses and unsigned integers; list filters are signed as comma-joined strings in
 * the order the body gives them (e.g. `countries: "DE,NL"`). The digest is computed here with
 * a small encoder (noble keccak) that matches ethers' `TypedDataEncoder.hash` byte for byte
 * (a test checks it), because it runs in the verifier workers.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { OfferSpec, RequestSpec } from "../types.ts";

/** The market's signing domain. */
export interface MarketDomain {
  readonly name: "tollway-market";
  readonly version: "1";
  readonly chainId: number;
  readonly verifyingContract?: `0x${string}`;
}

/** Builds the domain for a chain (and optionally a market contract address). */
export function marketDomain(chainId = 31337, verifyingContract?: `0x${string}`): MarketDomain {
  return verifyingContract
    ? { name: "tollway-market", version: "1", chainId, verifyingContract }
    : { name: "tollway-market", version: "1", chainId };
}

type Field = { readonly name: string; readonly type: string };

/** Struct definitions, in ethers' `types` format. */
export const MARKET_TYPES = {
  Offer: [
    { name: "provider", type: "address" },
    { name: "kind", type: "string" },
    { name: "priceUnit", type: "string" },
    { name: "country", type: "string" },
    { name: "region", type: "string" },
    { name: "asn", type: "uint32" },
    { name: "ipClass", type: "string" },
    { name: "protocols", type: "string" },
    { name: "bandwidthMbps", type: "uint32" },
    { name: "minDurationS", type: "uint32" },
    { name: "maxDurationS", type: "uint32" },
    { name: "maxStickyS", type: "uint32" },
    { name: "exitPolicies", type: "string" },
    { name: "price", type: "uint256" },
    { name: "quantity", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  Request: [
    { name: "requester", type: "address" },
    { name: "kind", type: "string" },
    { name: "priceUnit", type: "string" },
    { name: "countries", type: "string" },
    { name: "regions", type: "string" },
    { name: "asns", type: "string" },
    { name: "ipClasses", type: "string" },
    { name: "protocols", type: "string" },
    { name: "minBandwidthMbps", type: "uint32" },
    { name: "minRatingMilli", type: "uint32" },
    { name: "minCompletedDeals", type: "uint32" },
    { name: "maxPrice", type: "uint256" },
    { name: "durationS", type: "uint32" },
    { name: "stickyS", type: "uint32" },
    { name: "exitPolicy", type: "string" },
    { name: "quantity", type: "uint64" },
    { name: "volumeGib", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  AmendOrder: [
    { name: "orderId", type: "bytes32" },
    { name: "price", type: "uint256" },
    { name: "quantity", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  CancelOrder: [
    { name: "orderId", type: "bytes32" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
  AcceptDeal: [
    { name: "dealId", type: "string" },
    { name: "maxCost", type: "uint256" },
  ],
  RejectDeal: [
    { name: "dealId", type: "string" },
    { name: "reason", type: "string" },
  ],
  Rating: [
    { name: "dealId", type: "string" },
    { name: "score", type: "uint8" },
  ],
  StreamAuth: [{ name: "challenge", type: "string" }],
  ChannelReady: [
    { name: "dealId", type: "string" },
    { name: "channelId", type: "bytes32" },
  ],
  TunnelUp: [{ name: "dealId", type: "string" }],
} as const satisfies Record<string, readonly Field[]>;

/** Name of a signed struct. */
export type MarketTypeName = keyof typeof MARKET_TYPES;

/** A message's values: strings, numbers or bigints by field name. */
export type TypedMessage = Readonly<Record<string, string | number | bigint>>;

const utf8 = new TextEncoder();
const typeHashes = new Map<string, Uint8Array>();
for (const [name, fields] of Object.entries(MARKET_TYPES)) {
  const sig = `${name}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`;
  typeHashes.set(name, keccak_256(utf8.encode(sig)));
}

const separators = new Map<string, Uint8Array>();

/** keccak256 of the EIP-712 domain separator (cached per domain). */
export function domainSeparator(d: MarketDomain): Uint8Array {
  const k = `${d.chainId}:${d.verifyingContract ?? ""}`;
  let s = separators.get(k);
  if (!s) {
    const withContract = d.verifyingContract !== undefined;
    const sig = withContract
      ? "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
      : "EIP712Domain(string name,string version,uint256 chainId)";
    const buf = new Uint8Array(withContract ? 160 : 128);
    buf.set(keccak_256(utf8.encode(sig)), 0);
    buf.set(keccak_256(utf8.encode(d.name)), 32);
    buf.set(keccak_256(utf8.encode(d.version)), 64);
    writeUint(buf, 96, BigInt(d.chainId), 256);
    if (withContract) writeAddress(buf, 128, d.verifyingContract!);
    s = keccak_256(buf);
    separators.set(k, s);
  }
  return s;
}

/**
 * The EIP-712 digest of a market message.
 * @throws TypeError when a value does not fit its field's type.
 */
export function typedDigest(
  domain: MarketDomain,
  type: MarketTypeName,
  msg: TypedMessage,
): Uint8Array {
  const fields: readonly Field[] = MARKET_TYPES[type];
  const buf = new Uint8Array(32 * (fields.length + 1));
  buf.set(typeHashes.get(type)!, 0);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const v = msg[f.name];
    const at = 32 * (i + 1);
    if (f.type === "string") {
      if (typeof v !== "string") throw new TypeError(`${f.name} must be a string`);
      buf.set(keccak_256(utf8.encode(v)), at);
    } else if (f.type === "address") {
      writeAddress(buf, at, v as string);
    } else if (f.type === "bytes32") {
      if (typeof v !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(v))
        throw new TypeError(`${f.name} must be bytes32`);
      buf.set(Buffer.from(v.slice(2), "hex"), at);
    } else {
      const bits = Number(f.type.slice(4));
      writeUint(buf, at, typeof v === "bigint" ? v : BigInt(v as number), bits);
    }
  }
  const out = new Uint8Array(66);
  out[0] = 0x19;
  out[1] = 0x01;
  out.set(domainSeparator(domain), 2);
  out.set(keccak_256(buf), 34);
  return keccak_256(out);
}

function writeUint(buf: Uint8Array, at: number, v: bigint, bits: number): void {
  if (typeof v !== "bigint" || v < 0n || v >= 1n << BigInt(bits))
    throw new TypeError(`value out of uint${bits} range`);
  let x = v;
  for (let i = at + 31; i >= at && x > 0n; i--) {
    buf[i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

function writeAddress(buf: Uint8Array, at: number, v: string): void {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v))
    throw new TypeError("not an address");
  buf.set(Buffer.from(v.slice(2), "hex"), at + 12);
}

/** The typed-data message of an offer, as its provider signs it. */
export function offerMessage(s: OfferSpec): TypedMessage {
  return {
    provider: s.owner,
    kind: s.kind,
    priceUnit: s.priceUnit,
    country: s.country,
    region: s.region,
    asn: s.asn,
    ipClass: s.ipClass,
    protocols: s.protocols.join(","),
    bandwidthMbps: s.bandwidthMbps,
    minDurationS: s.minDurationS,
    maxDurationS: s.maxDurationS,
    maxStickyS: s.maxStickyS,
    exitPolicies: s.exitPolicies.join(","),
    price: s.price,
    quantity: s.quantity,
    nonce: s.nonce,
    expiry: s.expiry,
  };
}

/** The typed-data message of a request, as its requester signs it. */
export function requestMessage(s: RequestSpec): TypedMessage {
  return {
    requester: s.owner,
    kind: s.kind,
    priceUnit: s.priceUnit,
    countries: s.countries.join(","),
    regions: s.regions.join(","),
    asns: s.asns.join(","),
    ipClasses: s.ipClasses.join(","),
    protocols: s.protocols.join(","),
    minBandwidthMbps: s.minBandwidthMbps,
    minRatingMilli: s.minRatingMilli,
    minCompletedDeals: s.minCompletedDeals,
    maxPrice: s.maxPrice,
    durationS: s.durationS,
    stickyS: s.stickyS,
    exitPolicy: s.exitPolicy,
    quantity: s.quantity,
    volumeGib: s.volumeGib,
    nonce: s.nonce,
    expiry: s.expiry,
  };
}

/** Lowercase 0x-hex of bytes. */
export function toHex(b: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(b).toString("hex")}`;
}
