/**
 * The `qos` tunnel driver: a fast lane on one ISP node's egress interface. Start builds an HTB
 * hierarchy (root class at the link rate, a best-effort default class); each session gets a
 * class with a guaranteed rate and priority plus a u32 filter for its flow. A lane is a lease:
 * `setLease` moves its end (each payment does, through the fast-lane node), and when the lease
 * runs out or the session ends the filter and class are removed. Packet and byte counters come
 * from `tc -s class show` (`packet` metering). Status changes are events.
 */
import { EventEmitter } from "node:events";
import type {
  TunnelConfig,
  TunnelDriver,
  TunnelRefusal,
  TunnelRequest,
  TunnelUsage,
} from "../driver.ts";
import { SystemTunnelError } from "../system/errors.ts";
import { createRunner, type RunCommand } from "../system/run-command.ts";
import { type LaneParams, parseLaneParams } from "./params.ts";
import {
  addLaneCommands,
  freeSlot,
  type HtbLayout,
  laneClassId,
  parseClassStats,
  removeLaneCommands,
  setupCommands,
} from "./tc-plan.ts";

/** Options of `createQosDriver`. */
export interface QosDriverOptions {
  /** The egress interface the lanes shape. */
  readonly device: string;
  /** Network namespace of the interface (commands run via `ip netns exec`); default none. */
  readonly netns?: string | null;
  /** The link's rate, kbit/s: the root class and every class's ceiling. */
  readonly linkRateKbit: number;
  /** What best effort is guaranteed, kbit/s (default 1 % of the link, at least 8). */
  readonly defaultRateKbit?: number;
  /** The most all lanes together may be guaranteed, kbit/s (default 90 % of the link). */
  readonly maxLanesKbit?: number;
  /** How many lanes at once (default 256). */
  readonly maxLanes?: number;
  /** Milliseconds clock for leases (default `Date.now`). */
  readonly clock?: () => number;
}

/** A lane's status, as reported to the requester. */
export type LaneStatus = "requested" | "available" | "unavailable";

/** A status change of one lane. */
export interface LaneStatusEvent {
  readonly sessionId: string;
  readonly status: LaneStatus;
  /** Why it became unavailable: `ended`, `lease-expired`, `failed`, `closed`. */
  readonly reason: string | null;
  readonly at: number;
}

/** The `qos` driver, with leases and status events. */
export interface QosDriver extends TunnelDriver {
  readonly kind: "qos";
  /**
   * Sets when a lane's lease ends (ms on the driver's clock; null: no lease, it stays until
   * deactivated). A lease already past removes the lane at once. Unknown sessions are ignored.
   */
  setLease(sessionId: string, expiresAt: number | null): void;
  /** When a lane's lease ends (null: no lease, or no such lane). */
  leaseOf(sessionId: string): number | null;
  /** The lanes that are up, by session. */
  lanes(): ReadonlyMap<string, LaneParams>;
  on(event: "status", fn: (e: LaneStatusEvent) => void): this;
  off(event: "status", fn: (e: LaneStatusEvent) => void): this;
}

interface Lane {
  readonly slot: number;
  readonly params: LaneParams;
  timer: NodeJS.Timeout | null;
  expiresAt: number | null;
}

const ZERO: TunnelUsage = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };

/**
 * Builds the HTB hierarchy on `device` (replacing whatever root qdisc was there, so that no
 * stale lane survives a crash) and returns the driver.
 *
 * Counters: a lane shapes one direction, the requester's flow; its class counters go into
 * `bytesIn`/`packetsIn` and `bytesOut`/`packetsOut` stay 0.
 *
 * @throws SystemTunnelError PARAMS_INVALID (bad rates), COMMAND_MISSING, COMMAND_FAILED
 * @example
 * const qos = await createQosDriver({ device: "eth1", linkRateKbit: 100_000 });
 * qos.on("status", (e) => console.log(e.sessionId, e.status));
 * await qos.activate({ sessionId, kind: "qos",
 *   params: { dst: "198.51.100.9", protocol: "udp", dport: 3478, rateKbit: 2_000 } });
 * qos.setLease(sessionId, Date.now() + 5_000);
 */
export async function createQosDriver(opts: QosDriverOptions): Promise<QosDriver> {
  const link = opts.linkRateKbit;
  if (!Number.isInteger(link) || link < 64) {
    throw new SystemTunnelError("PARAMS_INVALID", "linkRateKbit must be an integer >= 64");
  }
  const layout: HtbLayout = {
    device: opts.device,
    linkRateKbit: link,
    defaultRateKbit: opts.defaultRateKbit ?? Math.max(8, Math.floor(link / 100)),
  };
  const run = createRunner(opts.netns ?? null);
  // Reconcile by rebuilding: deleting the root qdisc removes every class and filter under it.
  await run(["tc", "qdisc", "del", "dev", opts.device, "root"]).catch(() => undefined);
  for (const cmd of setupCommands(layout)) await run(cmd);
  return new TcQosDriver(run, layout, opts);
}

class TcQosDriver extends EventEmitter implements QosDriver {
  readonly kind = "qos" as const;
  readonly #run: RunCommand;
  readonly #layout: HtbLayout;
  readonly #maxLanesKbit: number;
  readonly #maxLanes: number;
  readonly #clock: () => number;
  readonly #lanes = new Map<string, Lane>();
  /** Sessions being activated or removed: one change per session at a time. */
  readonly #busy = new Map<string, Promise<unknown>>();
  #closed = false;

  constructor(run: RunCommand, layout: HtbLayout, opts: QosDriverOptions) {
    super();
    this.#run = run;
    this.#layout = layout;
    this.#maxLanesKbit = opts.maxLanesKbit ?? Math.floor(layout.linkRateKbit * 0.9);
    this.#maxLanes = opts.maxLanes ?? 256;
    this.#clock = opts.clock ?? Date.now;
  }

  #status(sessionId: string, status: LaneStatus, reason: string | null = null): void {
    this.emit("status", { sessionId, status, reason, at: this.#clock() });
  }

  #serial<T>(sessionId: string, job: () => Promise<T>): Promise<T> {
    const prev = this.#busy.get(sessionId) ?? Promise.resolve();
    const next = prev.then(job, job);
    const tail = next.catch(() => undefined);
    this.#busy.set(sessionId, tail);
    void tail.then(() => {
      if (this.#busy.get(sessionId) === tail) this.#busy.delete(sessionId);
    });
    return next;
  }

  check(params: Readonly<Record<string, string | number>>): TunnelRefusal | null {
    const parsed = parseLaneParams(params, this.#maxLanesKbit);
    if (!parsed.ok) return { code: "TUNNEL_PARAMS_INVALID", reason: parsed.reason };
    const free = this.#maxLanesKbit - this.#reservedKbit();
    if (this.#closed || parsed.value.rateKbit > free) {
      return { code: "TUNNEL_UNAVAILABLE", reason: `${free} kbit/s of guaranteed rate left` };
    }
    return null;
  }

  #reservedKbit(): number {
    let reserved = 0;
    for (const l of this.#lanes.values()) reserved += l.params.rateKbit;
    return reserved;
  }

  activate(request: TunnelRequest): Promise<TunnelConfig> {
    const id = request.sessionId;
    return this.#serial(id, async () => {
      if (this.#closed) throw new SystemTunnelError("DRIVER_CLOSED", "driver closed");
      const parsed = parseLaneParams(request.params, this.#maxLanesKbit);
      if (!parsed.ok) throw new SystemTunnelError(parsed.code, parsed.reason, { sessionId: id });
      if (this.#lanes.has(id)) {
        throw new SystemTunnelError("SESSION_EXISTS", "session already has a lane", {
          sessionId: id,
        });
      }
      const reserved = this.#reservedKbit();
      if (reserved + parsed.value.rateKbit > this.#maxLanesKbit) {
        throw new SystemTunnelError("POOL_EXHAUSTED", "the link has no guaranteed rate left", {
          sessionId: id,
          freeKbit: this.#maxLanesKbit - reserved,
        });
      }
      const slot = freeSlot(new Set([...this.#lanes.values()].map((l) => l.slot)), this.#maxLanes);
      if (slot === null) throw new SystemTunnelError("POOL_EXHAUSTED", "no lane slot left");
      this.#status(id, "requested");
      const lane: Lane = { slot, params: parsed.value, timer: null, expiresAt: null };
      // Reserve the slot before the commands run, so concurrent activations never share one.
      this.#lanes.set(id, lane);
      try {
        for (const cmd of addLaneCommands(this.#layout, slot, parsed.value)) await this.#run(cmd);
      } catch (err) {
        this.#lanes.delete(id);
        for (const cmd of removeLaneCommands(this.#layout, slot)) {
          await this.#run(cmd).catch(() => undefined);
        }
        this.#status(id, "unavailable", "failed");
        throw err;
      }
      this.#status(id, "available");
      return {
        policyId: laneClassId(slot),
        rateKbit: parsed.value.rateKbit,
        prio: parsed.value.prio,
        device: this.#layout.device,
      };
    });
  }

  deactivate(sessionId: string): Promise<void> {
    return this.#remove(sessionId, "ended");
  }

  #remove(sessionId: string, reason: string): Promise<void> {
    return this.#serial(sessionId, async () => {
      const lane = this.#lanes.get(sessionId);
      if (lane === undefined) return;
      if (lane.timer !== null) clearTimeout(lane.timer);
      let failure: unknown = null;
      for (const cmd of removeLaneCommands(this.#layout, lane.slot)) {
        await this.#run(cmd).catch((err: unknown) => {
          failure ??= err;
        });
      }
      this.#lanes.delete(sessionId);
      this.#status(sessionId, "unavailable", reason);
      if (failure !== null) throw failure;
    });
  }

  setLease(sessionId: string, expiresAt: number | null): void {
    const lane = this.#lanes.get(sessionId);
    if (lane === undefined) return;
    if (lane.timer !== null) clearTimeout(lane.timer);
    lane.timer = null;
    lane.expiresAt = expiresAt;
    if (expiresAt === null) return;
    const expire = () => {
      this.#remove(sessionId, "lease-expired").catch((err: unknown) => this.emit("error", err));
    };
    lane.timer = setTimeout(expire, Math.max(0, expiresAt - this.#clock()));
  }

  leaseOf(sessionId: string): number | null {
    return this.#lanes.get(sessionId)?.expiresAt ?? null;
  }

  async readUsage(sessionId: string): Promise<TunnelUsage> {
    const lane = this.#lanes.get(sessionId);
    if (lane === undefined || this.#closed) return ZERO;
    const { stdout } = await this.#run(["tc", "-s", "class", "show", "dev", this.#layout.device]);
    const stats = parseClassStats(stdout).get(laneClassId(lane.slot));
    if (stats === undefined) return ZERO;
    return { bytesIn: stats.bytes, packetsIn: stats.packets, bytesOut: 0, packetsOut: 0 };
  }

  lanes(): ReadonlyMap<string, LaneParams> {
    return new Map([...this.#lanes].map(([id, l]) => [id, l.params]));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const ids = [...this.#lanes.keys()];
    await Promise.allSettled(ids.map((id) => this.#remove(id, "closed")));
    this.#closed = true;
    await this.#run(["tc", "qdisc", "del", "dev", this.#layout.device, "root"]).catch(
      () => undefined,
    );
  }
}
