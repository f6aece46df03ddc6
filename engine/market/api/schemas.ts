/** JSON schemas of the market's HTTP bodies and queries (fastify validates them with ajv). */

const uint = { type: "string", pattern: "^[0-9]{1,78}$" } as const;
const u31 = { type: "integer", minimum: 0, maximum: 2147483647 } as const;
const address = { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } as const;
const signature = { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" } as const;
const kind = { type: "string", enum: ["ip", "tunnel", "fastlane"] } as const;
const priceUnit = { type: "string", enum: ["second", "gib"] } as const;
const ipClass = { type: "string", enum: ["residential", "datacenter", "mobile"] } as const;
const protocol = { type: "string", enum: ["http", "socks5", "wireguard"] } as const;
const exitPolicy = { type: "string", enum: ["replace", "same-asn", "fail"] } as const;
const list = (items: object) => ({ type: "array", items, maxItems: 64 }) as const;
const expiry = { type: "integer", minimum: 0, maximum: 1e12 } as const;

/** An offer as posted (amounts as decimal strings). */
export const offerSchema = {
  type: "object",
  additionalProperties: false,
  required: [
    "side",
    "owner",
    "kind",
    "priceUnit",
    "country",
    "asn",
    "ipClass",
    "protocols",
    "bandwidthMbps",
    "minDurationS",
    "maxDurationS",
    "maxStickyS",
    "exitPolicies",
    "price",
    "quantity",
    "nonce",
    "expiry",
  ],
  properties: {
    side: { const: "offer" },
    owner: address,
    kind,
    priceUnit,
    country: { type: "string", pattern: "^[A-Z]{2}$" },
    region: { type: "string", maxLength: 64 },
    asn: u31,
    ipClass,
    protocols: { ...list(protocol), minItems: 1 },
    bandwidthMbps: u31,
    minDurationS: u31,
    maxDurationS: u31,
    maxStickyS: u31,
    exitPolicies: { ...list(exitPolicy), minItems: 1 },
    price: uint,
    quantity: { type: "integer", minimum: 1, maximum: 1_000_000_000 },
    nonce: uint,
    expiry,
  },
} as const;

/** A request as posted. */
export const requestSchema = {
  type: "object",
  additionalProperties: false,
  required: [
    "side",
    "owner",
    "kind",
    "priceUnit",
    "maxPrice",
    "durationS",
    "quantity",
    "nonce",
    "expiry",
  ],
  properties: {
    side: { const: "request" },
    owner: address,
    kind,
    priceUnit,
    countries: list({ type: "string", pattern: "^[A-Z]{2}$" }),
    regions: list({ type: "string", minLength: 1, maxLength: 64 }),
    asns: list(u31),
    ipClasses: list(ipClass),
    protocols: list(protocol),
    minBandwidthMbps: u31,
    minRatingMilli: { type: "integer", minimum: 0, maximum: 5000 },
    minCompletedDeals: u31,
    maxPrice: uint,
    durationS: u31,
    stickyS: u31,
    exitPolicy,
    quantity: { type: "integer", minimum: 1, maximum: 1_000_000_000 },
    volumeGib: u31,
    nonce: uint,
    expiry,
  },
} as const;

/** POST /orders */
export const placeBody = {
  type: "object",
  additionalProperties: false,
  required: ["order", "signature"],
  properties: { order: { oneOf: [offerSchema, requestSchema] }, signature },
} as const;

/** POST /orders/:id/amend */
export const amendBody = {
  type: "object",
  additionalProperties: false,
  required: ["price", "quantity", "nonce", "expiry", "signature"],
  properties: {
    price: uint,
    quantity: { type: "integer", minimum: 1, maximum: 1_000_000_000 },
    nonce: uint,
    expiry,
    signature,
  },
} as const;

/** POST /orders/:id/cancel */
export const cancelBody = {
  type: "object",
  additionalProperties: false,
  required: ["nonce", "expiry", "signature"],
  properties: { nonce: uint, expiry, signature },
} as const;

/** POST /deals/:id/accept */
export const acceptBody = {
  type: "object",
  additionalProperties: false,
  required: ["signature"],
  properties: { signature },
} as const;

/** POST /deals/:id/channel */
export const channelReadyBody = {
  type: "object",
  additionalProperties: false,
  required: ["channelId", "signature"],
  properties: { channelId: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" }, signature },
} as const;

/** POST /deals/:id/reject */
export const rejectBody = {
  type: "object",
  additionalProperties: false,
  required: ["reason", "signature"],
  properties: { reason: { type: "string", maxLength: 200 }, signature },
} as const;

/** POST /deals/:id/rating */
export const ratingBody = {
  type: "object",
  additionalProperties: false,
  required: ["score", "signature"],
  properties: { score: { type: "integer", minimum: 1, maximum: 5 }, signature },
} as const;

/** GET /book */
export const bookQuery = {
  type: "object",
  additionalProperties: false,
  required: ["kind", "priceUnit"],
  properties: {
    side: { type: "string", enum: ["offer", "request"] },
    kind,
    priceUnit,
    countries: { type: "string", pattern: "^([A-Z]{2})(,[A-Z]{2})*$" },
    regions: { type: "string", maxLength: 1000 },
    asns: { type: "string", pattern: "^[0-9]{1,10}(,[0-9]{1,10})*$" },
    ipClasses: { type: "string", maxLength: 100 },
    protocols: { type: "string", maxLength: 100 },
    minBandwidthMbps: u31,
    minRatingMilli: { type: "integer", minimum: 0, maximum: 5000 },
    maxPrice: uint,
    durationS: u31,
    limit: { type: "integer", minimum: 1, maximum: 500 },
  },
} as const;

/** `:id` of an order: its 32-byte digest. */
export const orderIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } },
} as const;

/** `:id` of a deal. */
export const dealIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^d-[0-9]{1,15}$" } },
} as const;

/** `:address` of a wallet. */
export const addressParams = {
  type: "object",
  required: ["address"],
  properties: { address },
} as const;
