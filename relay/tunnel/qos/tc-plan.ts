/**
 * The tc commands of a fast lane (pure): an HTB root with a best-effort default class, and per
 * lane a class with a guaranteed rate and priority plus a u32 filter for its flow. Every lane
 * has a slot number; its class is `1:<0x100 + slot>` and its filter's preference `100 + slot`,
 * so that both can be removed without reading anything back.
 */
import type { LaneParams } from "./params.ts";

/** The HTB layout of one egress interface. */
export interface HtbLayout {
  readonly device: string;
  /** The link's rate (root class rate and every class's ceiling), kbit/s. */
  readonly linkRateKbit: number;
  /** What best effort is guaranteed, kbit/s. */
  readonly defaultRateKbit: number;
}

/** The default (best-effort) class id. */
export const DEFAULT_CLASS = "1:9";
/** The root class id. */
export const ROOT_CLASS = "1:1";

/** The class id of lane `slot`. */
export function laneClassId(slot: number): string {
  return `1:${(0x100 + slot).toString(16)}`;
}

/** The filter preference of lane `slot`. */
export function lanePref(slot: number): number {
  return 100 + slot;
}

/** Commands that (re)build the root qdisc, root class and default class; run after a delete. */
export function setupCommands(layout: HtbLayout): string[][] {
  const d = layout.device;
  const link = `${layout.linkRateKbit}kbit`;
  return [
    ["tc", "qdisc", "add", "dev", d, "root", "handle", "1:", "htb", "default", "9"],
    ["tc", "class", "add", "dev", d, "parent", "1:", "classid", ROOT_CLASS, "htb"].concat([
      "rate",
      link,
      "ceil",
      link,
    ]),
    ["tc", "class", "add", "dev", d, "parent", ROOT_CLASS, "classid", DEFAULT_CLASS, "htb"].concat([
      "rate",
      `${layout.defaultRateKbit}kbit`,
      "ceil",
      link,
      "prio",
      "7",
    ]),
  ];
}

/** Commands that install lane `slot` (class, then filter: no packet meets a missing class). */
export function addLaneCommands(layout: HtbLayout, slot: number, lane: LaneParams): string[][] {
  const d = layout.device;
  const cls = laneClassId(slot);
  const match: string[] = ["match", "ip", "dst", `${lane.dst}/32`];
  if (lane.src !== null) match.push("match", "ip", "src", `${lane.src}/32`);
  if (lane.protocol !== "any") {
    match.push("match", "ip", "protocol", lane.protocol === "tcp" ? "6" : "17", "0xff");
  }
  if (lane.dport !== null) match.push("match", "ip", "dport", String(lane.dport), "0xffff");
  if (lane.sport !== null) match.push("match", "ip", "sport", String(lane.sport), "0xffff");
  return [
    ["tc", "class", "add", "dev", d, "parent", ROOT_CLASS, "classid", cls, "htb"].concat([
      "rate",
      `${lane.rateKbit}kbit`,
      "ceil",
      `${layout.linkRateKbit}kbit`,
      "prio",
      String(lane.prio),
    ]),
    ["tc", "filter", "add", "dev", d, "parent", "1:", "protocol", "ip", "pref"].concat([
      String(lanePref(slot)),
      "u32",
      ...match,
      "flowid",
      cls,
    ]),
  ];
}

/** Commands that remove lane `slot` (filter first: no packet is sent to a missing class). */
export function removeLaneCommands(layout: HtbLayout, slot: number): string[][] {
  const d = layout.device;
  return [
    ["tc", "filter", "del", "dev", d, "parent", "1:", "protocol", "ip", "pref"].concat([
      String(lanePref(slot)),
    ]),
    ["tc", "class", "del", "dev", d, "classid", laneClassId(slot)],
  ];
}

/** Counters of one class from `tc -s class show`. */
export interface ClassStats {
  readonly bytes: number;
  readonly packets: number;
  readonly dropped: number;
  readonly overlimits: number;
}

/** Parses `tc -s class show dev <d>` into counters by class id. */
export function parseClassStats(text: string): Map<string, ClassStats> {
  const out = new Map<string, ClassStats>();
  let current: string | null = null;
  for (const line of text.split("\n")) {
    const head = /^class \S+ ([0-9a-f]+:[0-9a-f]+)/.exec(line);
    if (head !== null) {
      current = head[1] ?? null;
      continue;
    }
    const sent = /^\s*Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(line);
    if (sent !== null && current !== null) {
      out.set(current, {
        bytes: Number(sent[1]),
        packets: Number(sent[2]),
        dropped: Number(sent[3]),
        overlimits: Number(sent[4]),
      });
      current = null;
    }
  }
  return out;
}

/** The lowest free lane slot below `max`, or null. */
export function freeSlot(used: ReadonlySet<number>, max: number): number | null {
  for (let s = 0; s < max; s++) if (!used.has(s)) return s;
  return null;
}
