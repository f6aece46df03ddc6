/** Precomputed EIP-712 domains, shared by signers and verifiers: one computation per domain. */
import type { ChannelDomain } from "../types.ts";
import { domainSeparator, type Eip712Domain, eip712Domain, type TypedDomain } from "./eip712.ts";

const cache = new Map<string, Eip712Domain>();
const separators = new WeakMap<TypedDomain, Uint8Array>();

/** The cache key of a domain: chain id and lowercased contract address. */
export function domainKey(domain: ChannelDomain): string {
  return `${domain.chainId}:${domain.verifyingContract.toLowerCase()}`;
}

/** True when both domains name the same chain and contract. */
export function sameDomain(a: ChannelDomain, b: ChannelDomain): boolean {
  return (
    a.chainId === b.chainId &&
    a.verifyingContract.toLowerCase() === b.verifyingContract.toLowerCase()
  );
}

/**
 * The precomputed EIP-712 domain (separator) of a deployment, computed once.
 * @throws TypeError when the chain id or contract address is malformed.
 */
export function cachedDomain(domain: ChannelDomain | Eip712Domain): Eip712Domain {
  if ("separator" in domain) return domain;
  const key = domainKey(domain);
  let d = cache.get(key);
  if (d === undefined) {
    d = eip712Domain(domain);
    cache.set(key, d);
  }
  return d;
}

/**
 * The separator of a typed-data domain, computed once per domain object (callers such as the
 * market keep one domain object for all their messages).
 * @throws TypeError when the chain id or contract address is malformed.
 */
export function cachedSeparator(domain: TypedDomain): Uint8Array {
  let s = separators.get(domain);
  if (s === undefined) {
    s = domainSeparator(domain);
    separators.set(domain, s);
  }
  return s;
}
