/**
 * Admission of connections: how many sockets a node holds, and for whom. Pure bookkeeping (no
 * sockets, no timers): the shell asks at each step and carries out the answer.
 *
 * A socket goes through three phases:
 * - `handshake`: accepted over TCP, not yet authenticated (HTTP upgrade, then waiting for AUTH).
 *   At most `maxHandshakes` at once; when full, a newcomer takes the place of the oldest, so a
 *   flood of idle sockets cannot keep an honest client from its few milliseconds of handshake.
 * - `idle`: authenticated, but holding no channel on this node.
 * - `payer`: holds a channel (it opened or resumed a session) or, at AUTH, its requester already
 *   has a channel on this node. A channel exists only once the settlement backend found it open,
 *   which costs its requester a deposit; a fresh key costs nothing.
 *
 * Authenticated sockets (idle and payer) are at most `maxConnections`; idle ones may take them
 * only while fewer than `maxConnections − reservedForPayers` are taken, so the last slots are
 * there for payers that reconnect while the node is full of strangers. Sockets from one address
 * (an IPv6 /64) that hold no channel, handshaking or idle, are at most `maxPerIp`.
 */
import type { Result } from "../../channels/index.ts";
import type { RelayResult } from "../errors.ts";

/** Connection counts a node admits. */
export interface SocketLimits {
  /** Authenticated connections, payers included (default 4,096). */
  readonly maxConnections: number;
  /** Of `maxConnections`, the slots only payers may take (default 512). */
  readonly reservedForPayers: number;
  /** Sockets not yet authenticated; the oldest makes room for a newcomer (default 1,024). */
  readonly maxHandshakes: number;
  /** Sockets of one address (IPv6: one /64) holding no channel (default 128). */
  readonly maxPerIp: number;
}

/** The defaults of `SocketLimits`. */
export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  maxConnections: 4_096,
  reservedForPayers: 512,
  maxHandshakes: 1_024,
  maxPerIp: 128,
};

/** Where a socket stands. */
export type SlotPhase = "handshake" | "idle" | "payer";

/** One admitted socket; `handle` is the shell's own (its socket and connection). */
export interface Slot<T> {
  readonly handle: T;
  /** The address key the per-address limit counts under. */
  readonly ipKey: string;
  readonly phase: SlotPhase;
  readonly released: boolean;
}

interface MutableSlot<T> {
  readonly handle: T;
  readonly ipKey: string;
  phase: SlotPhase;
  released: boolean;
}

/** The answer to a new socket. */
export type Admission<T> = Result<AdmittedSlot<T>, "CONNECTION_LIMIT">;

/** A socket let in: its slot, and the handshaking socket that must go to make room for it. */
export interface AdmittedSlot<T> {
  readonly slot: Slot<T>;
  /** Closed by the shell; null when there was room. */
  readonly evicted: Slot<T> | null;
}

/** Counts of a guard. */
export interface AdmissionCounts {
  readonly handshakes: number;
  readonly idle: number;
  readonly payers: number;
}

/**
 * The key an address counts under: IPv4 addresses (also IPv4-mapped IPv6) as they are, IPv6 by
 * their /64, since one host there owns a whole /64.
 */
export function ipKeyOf(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(":")) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Admission bookkeeping over slots of the shell's handles `T`. */
export class ConnectionGuard<T> {
  readonly #limits: SocketLimits;
  /** Handshaking slots, oldest first (a Set keeps insertion order). */
  readonly #handshakes = new Set<MutableSlot<T>>();
  /** Slots holding no channel, by address key. */
  readonly #perIp = new Map<string, number>();
  #idle = 0;
  #payers = 0;

  /** @param limits - the counts to admit */
  constructor(limits: SocketLimits) {
    this.#limits = limits;
  }

  /** The counts now. */
  counts(): AdmissionCounts {
    return { handshakes: this.#handshakes.size, idle: this.#idle, payers: this.#payers };
  }

  /**
   * A new socket from `address`.
   * @returns its slot (and a handshaking slot to close for it, when the handshakes are full), or
   *   CONNECTION_LIMIT when its address has `maxPerIp` sockets without a channel
   */
  admit(handle: T, address: string | undefined): Admission<T> {
    const ipKey = ipKeyOf(address);
    if ((this.#perIp.get(ipKey) ?? 0) >= this.#limits.maxPerIp) {
      return {
        ok: false,
        code: "CONNECTION_LIMIT",
        reason: `${this.#limits.maxPerIp} connections without a channel from this address`,
      };
    }
    if (this.#limits.maxHandshakes <= 0) {
      return { ok: false, code: "CONNECTION_LIMIT", reason: "no handshakes admitted" };
    }
    let evicted: MutableSlot<T> | null = null;
    if (this.#handshakes.size >= this.#limits.maxHandshakes) {
      evicted = this.#handshakes.values().next().value!;
      this.release(evicted);
    }
    const slot: MutableSlot<T> = { handle, ipKey, phase: "handshake", released: false };
    this.#handshakes.add(slot);
    this.#perIp.set(ipKey, (this.#perIp.get(ipKey) ?? 0) + 1);
    return { ok: true, value: { slot, evicted } };
  }

  /**
   * The socket authenticated.
   * @param isPayer - asked only when the node is past the strangers' share: does the requester
   *   already have a channel on this node?
   * @returns ok (the slot is now idle or payer), or CONNECTION_LIMIT (the slot is unchanged; the
   *   shell closes it)
   */
  authenticate(slot: Slot<T>, isPayer: () => boolean): RelayResult<void> {
    const s = slot as MutableSlot<T>;
    if (s.released || s.phase !== "handshake") return { ok: true, value: undefined };
    const authed = this.#idle + this.#payers;
    if (authed >= this.#limits.maxConnections) {
      return { ok: false, code: "CONNECTION_LIMIT", reason: "the node is full" };
    }
    const strangers = this.#limits.maxConnections - this.#limits.reservedForPayers;
    let payer = false;
    if (authed >= strangers) {
      payer = isPayer();
      if (!payer) {
        return {
          ok: false,
          code: "CONNECTION_LIMIT",
          reason: "the node is full; its last slots are kept for requesters with a channel here",
        };
      }
    }
    this.#handshakes.delete(s);
    if (payer) {
      this.#leaveIp(s);
      s.phase = "payer";
      this.#payers++;
    } else {
      s.phase = "idle";
      this.#idle++;
    }
    return { ok: true, value: undefined };
  }

  /** The socket now holds a channel: it no longer counts against its address or the strangers. */
  promote(slot: Slot<T>): void {
    const s = slot as MutableSlot<T>;
    if (s.released || s.phase !== "idle") return;
    this.#idle--;
    this.#leaveIp(s);
    s.phase = "payer";
    this.#payers++;
  }

  /**
   * The socket no longer holds a channel (its session moved to another connection): it counts as
   * a stranger again, past the strangers' share or its address's limit if need be, until the
   * shell's idle deadline ends it.
   */
  demote(slot: Slot<T>): void {
    const s = slot as MutableSlot<T>;
    if (s.released || s.phase !== "payer") return;
    this.#payers--;
    s.phase = "idle";
    this.#idle++;
    this.#perIp.set(s.ipKey, (this.#perIp.get(s.ipKey) ?? 0) + 1);
  }

  /** The socket is gone (or being closed): its slot is free. Idempotent. */
  release(slot: Slot<T>): void {
    const s = slot as MutableSlot<T>;
    if (s.released) return;
    s.released = true;
    if (s.phase === "handshake") {
      this.#handshakes.delete(s);
      this.#leaveIp(s);
    } else if (s.phase === "idle") {
      this.#idle--;
      this.#leaveIp(s);
    } else {
      this.#payers--;
    }
  }

  #leaveIp(s: MutableSlot<T>): void {
    const n = (this.#perIp.get(s.ipKey) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(s.ipKey);
    else this.#perIp.set(s.ipKey, n);
  }
}

/**
 * The channels a connection owns: a Set that says when it goes from none to some (the
 * connection becomes a payer's) and from some back to none (its sessions moved to another
 * connection), whoever adds or deletes.
 */
export class OwnedChannels<T> extends Set<T> {
  readonly #onChange: (owning: boolean) => void;

  /** @param onChange - called with true at the first channel, with false when the last goes */
  constructor(onChange: (owning: boolean) => void) {
    super();
    this.#onChange = onChange;
  }

  override add(value: T): this {
    const before = this.size;
    super.add(value);
    if (before === 0 && this.size > 0) this.#onChange(true);
    return this;
  }

  override delete(value: T): boolean {
    const deleted = super.delete(value);
    if (deleted && this.size === 0) this.#onChange(false);
    return deleted;
  }

  override clear(): void {
    const had = this.size > 0;
    super.clear();
    if (had) this.#onChange(false);
  }
}
