/** Validation of the requester's `qos` lane parameters (pure). */
import { parseIpv4 } from "../wireguard/address-pool.ts";
import type { ParamsResult } from "../wireguard/params.ts";

/** The flow a lane carries and the rate it is guaranteed. */
export interface LaneParams {
  /** Destination address (IPv4). */
  readonly dst: string;
  /** Source address, or null for any. */
  readonly src: string | null;
  readonly dport: number | null;
  readonly sport: number | null;
  readonly protocol: "tcp" | "udp" | "any";
  /** Guaranteed rate, kbit/s. */
  readonly rateKbit: number;
  /** HTB priority, 0 (first) to 6; best effort runs at 7. */
  readonly prio: number;
}

function port(v: string | number | undefined): number | null | false {
  if (v === undefined || v === "") return null;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : false;
}

/**
 * Validates `qos` parameters: `{ dst, src?, dport?, sport?, protocol?, rateKbit, prio? }`.
 * @param maxRateKbit - the most a lane may be guaranteed on this link
 */
export function parseLaneParams(
  params: Readonly<Record<string, string | number>>,
  maxRateKbit: number,
): ParamsResult<LaneParams> {
  const bad = (reason: string) => ({ ok: false as const, code: "PARAMS_INVALID" as const, reason });
  const dst = String(params.dst ?? "");
  if (parseIpv4(dst) === null) return bad("dst must be an IPv4 address");
  const src = params.src === undefined || params.src === "" ? null : String(params.src);
  if (src !== null && parseIpv4(src) === null) return bad("src must be an IPv4 address");
  const dport = port(params.dport);
  const sport = port(params.sport);
  if (dport === false || sport === false) return bad("ports are 1 to 65535");
  const protocol = String(params.protocol ?? "any");
  if (protocol !== "tcp" && protocol !== "udp" && protocol !== "any") {
    return bad("protocol is tcp, udp or any");
  }
  if ((dport !== null || sport !== null) && protocol === "any") {
    return bad("ports need protocol tcp or udp");
  }
  const rateKbit = Number(params.rateKbit);
  if (!Number.isInteger(rateKbit) || rateKbit < 8 || rateKbit > maxRateKbit) {
    return bad(`rateKbit must be an integer from 8 to ${maxRateKbit}`);
  }
  const prio = Number(params.prio ?? 0);
  if (!Number.isInteger(prio) || prio < 0 || prio > 6) return bad("prio is 0 to 6");
  return { ok: true, value: { dst, src, dport, sport, protocol, rateKbit, prio } };
}
