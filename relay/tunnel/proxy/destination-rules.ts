/**
 * Which resolved addresses the proxy may connect to: the special-purpose ranges of the IANA
 * registries (RFC 6890 and successors) are refused, as are the provider's own addresses, unless
 * the operator allows them; the operator may deny more. Pure: no I/O, the caller passes the
 * host's own addresses in.
 */
import { BlockList, isIP } from "node:net";
import { type Result, reject } from "../../../channels/index.ts";
import { RelayError } from "../../errors.ts";

/** An address family as `BlockList` names it. */
type Family = "ipv4" | "ipv6";

/** IPv4 ranges that are not globally reachable (IANA IPv4 Special-Purpose Address Registry). */
export const SPECIAL_IPV4: readonly string[] = [
  "0.0.0.0/8", // "this network"; 0.0.0.0 reaches the host itself on Linux
  "10.0.0.0/8",
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, cloud metadata services
  "172.16.0.0/12",
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24",
  "192.88.99.0/24", // 6to4 relay anycast, deprecated
  "192.168.0.0/16",
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, and 255.255.255.255
];

/** IPv6 ranges that are not globally reachable (IANA IPv6 Special-Purpose Address Registry). */
export const SPECIAL_IPV6: readonly string[] = [
  "::/96", // unspecified, loopback and the deprecated IPv4-compatible form
  "::ffff:0:0:0/96", // IPv4-translated (RFC 2765)
  "64:ff9b:1::/48", // local-use NAT64
  "100::/64", // discard-only
  "2001::/23", // IETF protocol assignments, Teredo, benchmarking, ORCHID
  "2001:db8::/32",
  "2002::/16", // 6to4: it embeds an IPv4 address and is deprecated
  "3fff::/20",
  "5f00::/16", // SRv6 SIDs
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "fec0::/10", // site-local, deprecated
  "ff00::/8", // multicast
];

/** The well-known NAT64 prefix: a gateway translates `64:ff9b::a.b.c.d` to `a.b.c.d`. */
const NAT64_PREFIX = "64:ff9b::";

/** One allow or deny entry: addresses and a port range. */
interface Rule {
  readonly family: Family | "any";
  readonly list: BlockList;
  readonly portLow: number;
  readonly portHigh: number;
}

/** The parsed allow and deny lists. */
export interface DestinationRules {
  readonly allow: readonly Rule[];
  readonly deny: readonly Rule[];
}

/** Why an address may not be reached. */
export type AddressRefusalCode = "DENIED_BY_RULE" | "SPECIAL_PURPOSE_ADDRESS" | "OWN_ADDRESS";

/** Whether an address may be reached, and if not why. */
export type AddressVerdict = Result<undefined, AddressRefusalCode>;

// Verdicts are constants: judging an address allocates nothing.
const ALLOWED: AddressVerdict = Object.freeze({ ok: true, value: undefined });
const DENIED = Object.freeze(reject("DENIED_BY_RULE", "denied by rule"));
const SPECIAL = Object.freeze(reject("SPECIAL_PURPOSE_ADDRESS", "special-purpose address"));
const OWN = Object.freeze(reject("OWN_ADDRESS", "the provider's own address"));

/**
 * Parses allow/deny entries: `ADDRESS`, `ADDRESS/PREFIX` or `*`, optionally followed by
 * `:PORT` or `:LOW-HIGH` (IPv6 in brackets when a port follows: `[::1]:8080`, `[fd00::/8]:443`).
 * @throws RelayError TUNNEL_PARAMS_INVALID naming the first entry that does not parse.
 * @example parseDestinationRules(["127.0.0.1/32:8080"], ["*:25"])
 */
export function parseDestinationRules(
  allow: readonly string[] = [],
  deny: readonly string[] = [],
): DestinationRules {
  return { allow: parseList(allow, "allow"), deny: parseList(deny, "deny") };
}

function parseList(entries: unknown, name: string): Rule[] {
  // The lists come from configuration files and flags: anything but strings is refused.
  if (!Array.isArray(entries)) {
    throw new RelayError("TUNNEL_PARAMS_INVALID", `proxy ${name} is a list of strings`, {});
  }
  return entries.map(parseRule);
}

function parseRule(entry: unknown): Rule {
  const shown = typeof entry === "string" ? JSON.stringify(entry.slice(0, 100)) : typeof entry;
  const bad = (why: string) =>
    new RelayError("TUNNEL_PARAMS_INVALID", `proxy rule ${shown}: ${why}`, { entry: shown });
  if (typeof entry !== "string") throw bad("not a string");
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)|([0-9a-fA-F:./]+))(?::(\d{1,5})(?:-(\d{1,5}))?)?$/.exec(
    entry.trim(),
  );
  // An unbracketed IPv6 entry takes no port (its colons would be ambiguous).
  const v6bare = m?.[3];
  const addressPart = m?.[1] ?? m?.[2] ?? v6bare;
  if (m === null || addressPart === undefined) throw bad("expected ADDRESS[/PREFIX][:PORT]");
  if (v6bare !== undefined && m[4] !== undefined) throw bad("IPv6 with a port goes in brackets");
  const portLow = m[4] === undefined ? 1 : Number(m[4]);
  const portHigh = m[5] === undefined ? (m[4] === undefined ? 65535 : portLow) : Number(m[5]);
  if (portLow < 1 || portHigh > 65535 || portLow > portHigh) throw bad("bad port range");
  const list = new BlockList();
  if (addressPart === "*") return { family: "any", list, portLow, portHigh };
  const [address, prefixText, extra] = addressPart.split("/");
  const version = isIP(address ?? "");
  if (version === 0 || extra !== undefined || address!.includes("%")) throw bad("bad address");
  const family: Family = version === 4 ? "ipv4" : "ipv6";
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw bad("bad prefix");
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) throw bad("bad prefix");
  list.addSubnet(address!, prefix, family);
  return { family, list, portLow, portHigh };
}

const special4 = listOf(SPECIAL_IPV4, "ipv4");
const special6 = listOf(SPECIAL_IPV6, "ipv6");
// A NAT64 address is as special as the IPv4 address it embeds.
for (const cidr of SPECIAL_IPV4) {
  const [net, prefix] = cidr.split("/");
  special6.addSubnet(`${NAT64_PREFIX}${net}`, 96 + Number(prefix), "ipv6");
}

function listOf(cidrs: readonly string[], family: Family): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, prefix] = cidr.split("/");
    list.addSubnet(net!, Number(prefix), family);
  }
  return list;
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, in any spelling),
 * else null. Such an address reaches the IPv4 host, so it is judged, and connected to, as IPv4.
 */
export function unmapIPv4(address: string): string | null {
  // The WHATWG URL parser spells every IPv6 address one canonical way.
  const url = `http://[${address}]/`;
  if (isIP(address) !== 6 || address.includes("%") || !URL.canParse(url)) return null;
  const canonical = new URL(url).hostname;
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(canonical);
  if (m === null) return null;
  const high = Number.parseInt(m[1]!, 16);
  const low = Number.parseInt(m[2]!, 16);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The host's own addresses as one list (an interface address reaches the host itself, past any
 * firewall on that interface). Scope suffixes (`fe80::1%eth0`) are dropped.
 */
export function ownAddressList(addresses: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of addresses) {
    const address = raw.split("%")[0]!;
    const version = isIP(address);
    if (version !== 0) list.addAddress(address, version === 4 ? "ipv4" : "ipv6");
  }
  return list;
}

/**
 * Judges one resolved address (an IP literal; an IPv4-mapped one as its IPv4 address) and
 * port: an allow entry wins; then a deny entry, a special-purpose range or one of the host's own
 * addresses refuses. A scoped IPv6 address (`fe80::1%eth0`) or a non-address is always refused.
 */
export function judgeAddress(
  rules: DestinationRules,
  literal: string,
  port: number,
  own: BlockList,
): AddressVerdict {
  const address = unmapIPv4(literal) ?? literal;
  const version = isIP(address);
  if (version === 0 || address.includes("%")) return SPECIAL;
  const family: Family = version === 4 ? "ipv4" : "ipv6";
  // Rules are matched within their own family: a BlockList would match IPv4 addresses against
  // IPv6 ranges through their mapped form, so `::/0` would otherwise cover all of IPv4.
  const matches = (r: Rule) =>
    port >= r.portLow &&
    port <= r.portHigh &&
    (r.family === "any" || (r.family === family && r.list.check(address, family)));
  if (rules.allow.some(matches)) return ALLOWED;
  if (rules.deny.some(matches)) return DENIED;
  if ((family === "ipv4" ? special4 : special6).check(address, family)) return SPECIAL;
  if (own.check(address, family)) return OWN;
  return ALLOWED;
}
