/**
 * Numeric encodings of order attributes, shared by the matcher and the API edge.
 *
 * The matcher only ever sees small integers and bit masks: kinds and price units are indices,
 * IP classes, protocols and exit policies are one bit each so that "any of these" is one AND.
 */

/** What an order trades: an exit IP, a full tunnel, or a QoS fast lane. */
export type OrderKind = "ip" | "tunnel" | "fastlane";
/** What the price is counted in. */
export type PriceUnit = "second" | "gib";
/** Where an exit IP lives. */
export type IpClass = "residential" | "datacenter" | "mobile";
/** How the requester reaches the exit. */
export type Protocol = "http" | "socks5" | "wireguard";
/** What to do when an exit IP goes away during a deal. */
export type ExitPolicy = "replace" | "same-asn" | "fail";

/** Kinds in index order. */
export const KINDS: readonly OrderKind[] = ["ip", "tunnel", "fastlane"];
/** Price units in index order. */
export const PRICE_UNITS: readonly PriceUnit[] = ["second", "gib"];
/** IP classes in bit order (bit i = 1 << i). */
export const IP_CLASSES: readonly IpClass[] = ["residential", "datacenter", "mobile"];
/** Protocols in bit order (bit i = 1 << i). */
export const PROTOCOLS: readonly Protocol[] = ["http", "socks5", "wireguard"];
/** Exit policies in bit order (bit i = 1 << i). */
export const EXIT_POLICIES: readonly ExitPolicy[] = ["replace", "same-asn", "fail"];

/** Shortest deal the market accepts, in seconds. */
export const MIN_DURATION_S = 5;
/** Longest deal the market accepts, in seconds (30 days). */
export const MAX_DURATION_S = 30 * 24 * 3600;
/** Number of distinct country codes (two letters A–Z). */
export const COUNTRY_COUNT = 26 * 26;
/** Largest quantity of one order (IPs, tunnels or lanes). */
export const MAX_QUANTITY = 1_000_000_000;
/** Largest price per unit the hot path accepts: prices stay exact in a double. */
export const MAX_PRICE = Number.MAX_SAFE_INTEGER;
/** Ratings are kept in milli-stars: 1000 = one star, 5000 = five stars. */
export const MAX_RATING_MILLI = 5000;

/** Index of a kind, or -1. */
export function kindIndex(kind: string): number {
  return KINDS.indexOf(kind as OrderKind);
}

/** Index of a price unit, or -1. */
export function unitIndex(unit: string): number {
  return PRICE_UNITS.indexOf(unit as PriceUnit);
}

/** Bit of one IP class, or 0 when unknown. */
export function ipClassBit(c: string): number {
  const i = IP_CLASSES.indexOf(c as IpClass);
  return i < 0 ? 0 : 1 << i;
}

/** Bit of one protocol, or 0 when unknown. */
export function protocolBit(p: string): number {
  const i = PROTOCOLS.indexOf(p as Protocol);
  return i < 0 ? 0 : 1 << i;
}

/** Bit of one exit policy, or 0 when unknown. */
export function exitPolicyBit(p: string): number {
  const i = EXIT_POLICIES.indexOf(p as ExitPolicy);
  return i < 0 ? 0 : 1 << i;
}

/** Names of the set bits of a mask, in bit order. */
export function maskNames<T extends string>(names: readonly T[], mask: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < names.length; i++) if (mask & (1 << i)) out.push(names[i]!);
  return out;
}

/** Mask of a list of names, or -1 when one is unknown. */
export function namesMask(names: readonly string[], table: readonly string[]): number {
  let mask = 0;
  for (const n of names) {
    const i = table.indexOf(n);
    if (i < 0) return -1;
    mask |= 1 << i;
  }
  return mask;
}

/** Code (0–675) of an ISO 3166-1 alpha-2 country like "US", or -1 when malformed. */
export function countryCode(cc: string): number {
  if (cc.length !== 2) return -1;
  const a = cc.charCodeAt(0) - 65;
  const b = cc.charCodeAt(1) - 65;
  if (a < 0 || a > 25 || b < 0 || b > 25) return -1;
  return a * 26 + b;
}

/** The two letters of a country code. */
export function countryName(code: number): string {
  return String.fromCharCode(65 + Math.floor(code / 26), 65 + (code % 26));
}
