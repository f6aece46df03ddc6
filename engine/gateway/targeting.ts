/**
 * The targeting a crawler writes in its proxy username, as residential-proxy services take it:
 * `user-country-de-city-berlin-session-a1b2-sesstime-30`. Pure: parse, format, no I/O.
 *
 * Grammar: `user` then any number of `-<key>-<value>` pairs, in any order. The username is read
 * as ASCII and folded to lowercase first, so `User-Country-DE` is `user-country-de`. The password
 * is the gateway's own access secret and is not read here.
 *
 * | key        | value                                               | default            |
 * | ---------- | --------------------------------------------------- | ------------------ |
 * | `country`  | ISO 3166-1 alpha-2, assigned codes only (`de`, `gb`) | any                |
 * | `region`   | 1–64 of `[a-z0-9_]` (`_` for a space: `new_york`)   | any                |
 * | `city`     | 1–64 of `[a-z0-9_]`                                 | any                |
 * | `asn`      | 1..4294967295, decimal, no leading zero             | any                |
 * | `class`    | `residential`, `datacenter`, `mobile`               | any                |
 * | `protocol` | `http`, `socks5`, `wireguard`                       | the gateway's own  |
 * | `maxprice` | 0..2^53−1 token base units per unit, decimal        | the gateway's own  |
 * | `unit`     | `second`, `gib` (what `maxprice` is counted in)     | the gateway's own  |
 * | `session`  | 1–32 of `[a-z0-9_]`: sticky exit                    | none (rotating)    |
 * | `sesstime` | minutes the exit sticks, 1..1440 (needs `session`)  | 10                 |
 * | `lost`     | `replace`, `same-asn`, `same-city`, `fail` (needs `session`) | `replace` |
 * | `rotate`   | `conn` (new exit per connection) or 1..1000000 requests (not with `session`) | `conn` |
 *
 * `lost-same` always takes the next part with it (`same-asn`, `same-city`); no other value holds
 * the separator. Refused: more than 255 characters, checked before anything else
 * (`TARGETING_TOO_LONG`; RFC 1929 carries at most 255 bytes, so every targeting fits SOCKS5 as
 * well as HTTP), a character outside `[A-Za-z0-9_-]` (`TARGETING_BAD_CHARACTER`: what passes is
 * ASCII, one byte a character), a missing `user` prefix or an empty part (`TARGETING_MALFORMED`), a key not in the table (`TARGETING_UNKNOWN_KEY`), a key
 * without value (`TARGETING_MISSING_VALUE`), a value outside its row (`TARGETING_BAD_VALUE`), a
 * key given twice (`TARGETING_DUPLICATE_KEY`), `sesstime`/`lost` without `session` or `rotate`
 * with it (`TARGETING_CONFLICT`). Every refusal names the key (or the position) in `details`.
 */
import { type Rejection, type Result, reject } from "../../channels/index.ts";
import {
  IP_CLASSES,
  type IpClass,
  MAX_PRICE,
  PRICE_UNITS,
  PROTOCOLS,
  type PriceUnit,
  type Protocol,
} from "../market/book/attributes.ts";
import { COUNTRIES } from "./countries.ts";

/** Every code a targeting can be refused with. */
export type TargetingErrorCode =
  | "TARGETING_TOO_LONG"
  | "TARGETING_BAD_CHARACTER"
  | "TARGETING_MALFORMED"
  | "TARGETING_UNKNOWN_KEY"
  | "TARGETING_MISSING_VALUE"
  | "TARGETING_BAD_VALUE"
  | "TARGETING_DUPLICATE_KEY"
  | "TARGETING_CONFLICT"
  | "TARGETING_UNSUPPORTED";

/** What to do when a sticky exit goes away: the market's policies and `same-city`. */
export type LostExitPolicy = "replace" | "same-asn" | "same-city" | "fail";

/** The lost-exit policies, in the order the table lists them. */
export const LOST_EXIT_POLICIES: readonly LostExitPolicy[] = [
  "replace",
  "same-asn",
  "same-city",
  "fail",
];

/** How long a connection keeps its exit: a sticky session, or rotation. */
export type Stickiness =
  | {
      readonly kind: "sticky";
      readonly session: string;
      readonly minutes: number;
      readonly lost: LostExitPolicy;
    }
  /** `every`: "connection", or a new exit after that many requests. */
  | { readonly kind: "rotating"; readonly every: "connection" | number };

/** A parsed targeting: absent filters mean "any" (or the gateway's setting). */
export interface Targeting {
  /** Lowercase ISO 3166-1 alpha-2. */
  readonly country?: string;
  readonly region?: string;
  readonly city?: string;
  readonly asn?: number;
  readonly ipClass?: IpClass;
  readonly protocol?: Protocol;
  /** Token base units per `priceUnit`. */
  readonly maxPrice?: bigint;
  readonly priceUnit?: PriceUnit;
  readonly stickiness: Stickiness;
}

/** Longest username read, in characters (which are bytes once it passes: ASCII only). */
export const MAX_USERNAME_LENGTH = 255;
/** Longest session id. */
export const MAX_SESSION_LENGTH = 32;
/** Longest region or city. */
export const MAX_PLACE_LENGTH = 64;
/** Minutes a sticky exit is held by default, and at most (24 h). */
export const DEFAULT_SESSION_MINUTES = 10;
export const MAX_SESSION_MINUTES = 1440;
/** Most requests `rotate-<n>` may name. */
export const MAX_ROTATE_REQUESTS = 1_000_000;
const MAX_ASN = 0xffff_ffff;
const PREFIX = "user";

/** The targeting of a bare `user`: any exit, a new one per connection. */
export const ANY_TARGETING: Targeting = { stickiness: { kind: "rotating", every: "connection" } };

const WORD = /^[a-z0-9_]+$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const ALLOWED = /^[A-Za-z0-9_-]*$/;

type Key =
  | "country"
  | "region"
  | "city"
  | "asn"
  | "class"
  | "protocol"
  | "maxprice"
  | "unit"
  | "session"
  | "sesstime"
  | "lost"
  | "rotate";

/** Keys in the order `formatTargeting` writes them. */
const KEYS: readonly Key[] = [
  "country",
  "region",
  "city",
  "asn",
  "class",
  "protocol",
  "maxprice",
  "unit",
  "session",
  "sesstime",
  "lost",
  "rotate",
];

/** `s` as one of `names`, or undefined (no object lookup: `__proto__` is just a string here). */
function memberOf<T extends string>(names: readonly T[], s: string): T | undefined {
  return names.find((n) => n === s);
}

/** A decimal in lo..hi, or undefined. */
function decimal(s: string, lo: number, hi: number): number | undefined {
  if (!DECIMAL.test(s) || s.length > 16) return undefined;
  const n = Number(s);
  return n >= lo && n <= hi ? n : undefined;
}

function word(s: string, max: number): string | undefined {
  return s.length <= max && WORD.test(s) ? s : undefined;
}

type Fields = {
  country?: string;
  region?: string;
  city?: string;
  asn?: number;
  ipClass?: IpClass;
  protocol?: Protocol;
  maxPrice?: bigint;
  priceUnit?: PriceUnit;
  session?: string;
  minutes?: number;
  lost?: LostExitPolicy;
  rotate?: "connection" | number;
};

/** Stores one key's value in `f`, or says it is out of range. */
function setField(f: Fields, key: Key, v: string): boolean {
  switch (key) {
    case "country":
      f.country = COUNTRIES.has(v) ? v : undefined;
      return f.country !== undefined;
    case "region":
      f.region = word(v, MAX_PLACE_LENGTH);
      return f.region !== undefined;
    case "city":
      f.city = word(v, MAX_PLACE_LENGTH);
      return f.city !== undefined;
    case "asn":
      f.asn = decimal(v, 1, MAX_ASN);
      return f.asn !== undefined;
    case "class":
      f.ipClass = memberOf(IP_CLASSES, v);
      return f.ipClass !== undefined;
    case "protocol":
      f.protocol = memberOf(PROTOCOLS, v);
      return f.protocol !== undefined;
    case "maxprice": {
      const n = decimal(v, 0, MAX_PRICE);
      f.maxPrice = n === undefined ? undefined : BigInt(n);
      return n !== undefined;
    }
    case "unit":
      f.priceUnit = memberOf(PRICE_UNITS, v);
      return f.priceUnit !== undefined;
    case "session":
      f.session = word(v, MAX_SESSION_LENGTH);
      return f.session !== undefined;
    case "sesstime":
      f.minutes = decimal(v, 1, MAX_SESSION_MINUTES);
      return f.minutes !== undefined;
    case "lost":
      f.lost = memberOf(LOST_EXIT_POLICIES, v);
      return f.lost !== undefined;
    case "rotate":
      f.rotate = v === "conn" ? "connection" : decimal(v, 1, MAX_ROTATE_REQUESTS);
      return f.rotate !== undefined;
  }
}

function conflict(key: Key, other: Key, reason: string): Rejection<TargetingErrorCode> {
  return reject("TARGETING_CONFLICT", reason, { key, with: other });
}

/**
 * Reads a proxy username into a {@link Targeting}; never throws.
 *
 * @param username - the username of the proxy credentials, as the client sent it
 * @returns the targeting, or a refusal with one of the {@link TargetingErrorCode}s
 * @example
 * parseTargeting("user-country-de-city-berlin-session-a1b2-sesstime-30");
 * // { ok: true, value: { country: "de", city: "berlin",
 * //   stickiness: { kind: "sticky", session: "a1b2", minutes: 30, lost: "replace" } } }
 */
export function parseTargeting(username: string): Result<Targeting, TargetingErrorCode> {
  if (typeof username !== "string") return reject("TARGETING_MALFORMED", "not a string", { at: 0 });
  if (username.length > MAX_USERNAME_LENGTH) {
    return reject("TARGETING_TOO_LONG", `longer than ${MAX_USERNAME_LENGTH} characters`, {
      length: username.length,
    });
  }
  if (!ALLOWED.test(username)) {
    let at = 0;
    while (ALLOWED.test(username[at]!)) at++;
    return reject("TARGETING_BAD_CHARACTER", "only letters, digits, _ and -", { at });
  }
  const parts = username.toLowerCase().split("-");
  if (parts[0] !== PREFIX) {
    return reject("TARGETING_MALFORMED", `must start with ${PREFIX}`, { at: 0 });
  }
  const f: Fields = {};
  const seen = new Set<Key>();
  for (let i = 1; i < parts.length; ) {
    const name = parts[i]!;
    if (name === "") return reject("TARGETING_MALFORMED", "an empty part", { at: i });
    const key = memberOf(KEYS, name);
    if (key === undefined) return reject("TARGETING_UNKNOWN_KEY", "unknown key", { key: name });
    if (seen.has(key)) return reject("TARGETING_DUPLICATE_KEY", "key given twice", { key });
    seen.add(key);
    let value = parts[i + 1];
    if (value === undefined) return reject("TARGETING_MISSING_VALUE", "key without value", { key });
    if (value === "") return reject("TARGETING_MALFORMED", "an empty part", { at: i + 1 });
    i += 2;
    // The only values holding the separator: `same-asn`, `same-city` (bare `same` is none).
    if (key === "lost" && value === "same" && i < parts.length) value = `same-${parts[i++]}`;
    if (!setField(f, key, value)) {
      return reject("TARGETING_BAD_VALUE", "value out of range", { key, value });
    }
  }
  let stickiness: Stickiness;
  if (f.session !== undefined) {
    if (f.rotate !== undefined) return conflict("rotate", "session", "a session does not rotate");
    stickiness = {
      kind: "sticky",
      session: f.session,
      minutes: f.minutes ?? DEFAULT_SESSION_MINUTES,
      lost: f.lost ?? "replace",
    };
  } else {
    if (f.minutes !== undefined) return conflict("sesstime", "session", "sesstime needs session");
    if (f.lost !== undefined) return conflict("lost", "session", "lost needs session");
    stickiness = { kind: "rotating", every: f.rotate ?? "connection" };
  }
  const t: {
    -readonly [K in keyof Targeting]: Targeting[K];
  } = { stickiness };
  if (f.country !== undefined) t.country = f.country;
  if (f.region !== undefined) t.region = f.region;
  if (f.city !== undefined) t.city = f.city;
  if (f.asn !== undefined) t.asn = f.asn;
  if (f.ipClass !== undefined) t.ipClass = f.ipClass;
  if (f.protocol !== undefined) t.protocol = f.protocol;
  if (f.maxPrice !== undefined) t.maxPrice = f.maxPrice;
  if (f.priceUnit !== undefined) t.priceUnit = f.priceUnit;
  return { ok: true, value: t };
}

/**
 * Writes a targeting as its canonical username: keys in table order, defaults left out, so
 * `parseTargeting(formatTargeting(t))` gives back `t` for every valid `t`.
 *
 * @param t - a targeting whose values lie in the table's ranges
 */
export function formatTargeting(t: Targeting): string {
  const out = [PREFIX];
  const put = (key: Key, v: string | number | bigint | undefined) => {
    if (v !== undefined) out.push(key, String(v));
  };
  put("country", t.country);
  put("region", t.region);
  put("city", t.city);
  put("asn", t.asn);
  put("class", t.ipClass);
  put("protocol", t.protocol);
  put("maxprice", t.maxPrice);
  put("unit", t.priceUnit);
  const s = t.stickiness;
  if (s.kind === "sticky") {
    put("session", s.session);
    if (s.minutes !== DEFAULT_SESSION_MINUTES) put("sesstime", s.minutes);
    if (s.lost !== "replace") put("lost", s.lost);
  } else if (s.every !== "connection") {
    put("rotate", s.every);
  }
  return out.join("-");
}
