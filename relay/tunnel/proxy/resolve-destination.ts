/**
 * From a requested `host:port` to the addresses the proxy may connect to: the host is looked up
 * once (bounded in time and in concurrent lookups), every answer is judged, and only the judged
 * addresses are handed on, so that a second lookup cannot answer differently (DNS rebinding).
 */
import { promises as dns } from "node:dns";
import { type BlockList, isIP, type LookupFunction } from "node:net";
import { networkInterfaces } from "node:os";
import type { Result } from "../../../channels/index.ts";
import {
  type DestinationRules,
  judgeAddress,
  ownAddressList,
  unmapIPv4,
} from "./destination-rules.ts";
import type { LookupGate } from "./lookup-gate.ts";

/** One address of a name, as `dns.lookup` gives it. */
export interface LookupAnswer {
  readonly address: string;
  readonly family: number;
}

/** Every address of a name. The default is the system resolver (`dns.lookup`, /etc/hosts). */
export type Lookup = (hostname: string) => Promise<readonly LookupAnswer[]>;

/** The system resolver: getaddrinfo, every address, in the order it gives them. */
export const systemLookup: Lookup = (hostname) => dns.lookup(hostname, { all: true });

/** A judged address the proxy may connect to. */
export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Why a destination is refused before any connection is attempted. */
export type DestinationRefusalCode =
  | "DESTINATION_INVALID"
  | "DESTINATION_FORBIDDEN"
  | "DESTINATION_UNRESOLVED"
  | "LOOKUP_TIMEOUT";

/** The outcome of resolving a destination. */
export type Resolution = Result<readonly CheckedAddress[], DestinationRefusalCode>;

/** What resolving needs from the driver. */
export interface ResolveContext {
  readonly rules: DestinationRules;
  readonly lookup: Lookup;
  readonly gate: LookupGate;
  readonly timeoutMs: number;
  /** The host's own addresses, read when needed (interfaces come and go). */
  readonly ownAddresses: () => BlockList;
}

/** Longest DNS name (RFC 1035: 255 octets on the wire, 253 characters written out). */
const MAX_NAME = 253;
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A requested host, read: an IP literal, a DNS name to look up, or nothing valid. */
export type RequestedHost =
  | { readonly kind: "ip"; readonly address: string }
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "invalid" };

/**
 * Reads a requested host. Brackets around an IPv6 literal and one trailing dot (`localhost.`)
 * are dropped, so that each spelling is judged by what it names. Numeric forms that are not
 * dotted quads (`127.1`, `0x7f.1`, `2130706433`) are names here: the system resolver turns them
 * into the address they spell, which is then judged like any answer.
 */
export function readHost(host: string): RequestedHost {
  let h = host;
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (isIP(h) !== 0) return { kind: "ip", address: h };
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (isIP(h) !== 0) return { kind: "ip", address: h };
  if (h.length === 0 || h.length > MAX_NAME) return { kind: "invalid" };
  return h.split(".").every((label) => LABEL.test(label))
    ? { kind: "name", name: h }
    : { kind: "invalid" };
}

/**
 * Resolves and judges `host:port`. Never rejects: every failure is a refusal value. `signal`
 * ends the wait early (the client went away, the session was torn down).
 */
export async function resolveDestination(
  host: string,
  port: number,
  ctx: ResolveContext,
  signal: AbortSignal,
): Promise<Resolution> {
  const requested = readHost(host);
  if (requested.kind === "invalid" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, code: "DESTINATION_INVALID", reason: "not a host and port" };
  }
  let answers: readonly LookupAnswer[];
  if (requested.kind === "ip") {
    answers = [{ address: requested.address, family: isIP(requested.address) }];
  } else {
    const timeout = AbortSignal.timeout(ctx.timeoutMs);
    try {
      answers = await ctx.gate.run(
        () => ctx.lookup(requested.name),
        AbortSignal.any([timeout, signal]),
      );
    } catch (err) {
      if (timeout.aborted) return { ok: false, code: "LOOKUP_TIMEOUT", reason: "lookup timed out" };
      const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "aborted";
      return { ok: false, code: "DESTINATION_UNRESOLVED", reason: `lookup failed (${code})` };
    }
  }
  if (!Array.isArray(answers) || answers.length === 0) {
    return { ok: false, code: "DESTINATION_UNRESOLVED", reason: "no address" };
  }
  const own = ctx.ownAddresses();
  const addresses: CheckedAddress[] = [];
  // One forbidden answer refuses the name: a name that mixes a public address with a private
  // one is how a rebinding attack would reach the private one on a retry.
  for (const answer of answers) {
    const raw = typeof answer?.address === "string" ? answer.address : "";
    const address = unmapIPv4(raw) ?? raw;
    const verdict = judgeAddress(ctx.rules, address, port, own);
    if (!verdict.ok) return { ok: false, code: "DESTINATION_FORBIDDEN", reason: verdict.reason };
    addresses.push({ address, family: isIP(address) === 4 ? 4 : 6 });
  }
  return { ok: true, value: addresses };
}

/**
 * How to reach judged addresses without a second lookup: one address by itself; several through
 * a lookup that answers with exactly those, so that Node still tries each family in turn.
 */
export function connectOptions(addresses: readonly CheckedAddress[]): {
  host: string;
  lookup?: LookupFunction;
  autoSelectFamily?: boolean;
} {
  if (addresses.length === 1) return { host: addresses[0]!.address };
  return {
    host: "judged-addresses.invalid",
    autoSelectFamily: true,
    lookup: (_name, options, done) => {
      if (options.all)
        done(
          null,
          addresses.map((a) => ({ address: a.address, family: a.family })),
        );
      else done(null, addresses[0]!.address, addresses[0]!.family);
    },
  };
}

/** Every address of this host's interfaces, read now. */
export function hostAddresses(): BlockList {
  const all: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) all.push(info.address);
  }
  return ownAddressList(all);
}
