/**
 * The provider's IPv4 address pool for WireGuard peers (pure): the first host of the CIDR is the
 * provider's own tunnel address, every other host can go to one session.
 */

/** A parsed pool. Addresses are unsigned 32-bit numbers. */
export interface AddressPool {
  readonly cidr: string;
  readonly prefix: number;
  readonly network: number;
  /** The provider's own address (the first host). */
  readonly gateway: number;
  /** First and last address that can go to a peer. */
  readonly first: number;
  readonly last: number;
}

/** Parses a dotted IPv4 address; null when malformed. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** Formats an address as dotted IPv4. */
export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/**
 * Parses a pool such as `10.77.0.0/24` (prefix 8 to 30).
 * @returns the pool, or null when the CIDR is malformed or too small for two hosts
 */
export function parseAddressPool(cidr: string): AddressPool | null {
  const [addr, bits, ...rest] = cidr.split("/");
  if (addr === undefined || bits === undefined || rest.length > 0) return null;
  if (!/^[0-9]{1,2}$/.test(bits)) return null;
  const prefix = Number(bits);
  const ip = parseIpv4(addr);
  if (ip === null || prefix < 8 || prefix > 30) return null;
  const size = 2 ** (32 - prefix);
  const network = ip - (ip % size);
  return {
    cidr: `${formatIpv4(network)}/${prefix}`,
    prefix,
    network,
    gateway: network + 1,
    first: network + 2,
    last: network + size - 2,
  };
}

/**
 * The lowest free peer address of the pool.
 * @param used - addresses held by sessions
 * @returns an address, or null when the pool is exhausted
 */
export function allocateAddress(pool: AddressPool, used: ReadonlySet<number>): number | null {
  for (let a = pool.first; a <= pool.last; a++) if (!used.has(a)) return a;
  return null;
}

/** True when `address` lies in the pool's peer range. */
export function inPool(pool: AddressPool, address: number): boolean {
  return address >= pool.first && address <= pool.last;
}
