/**
 * The interface every tunnel driver implements (docs/architecture.md, "Payment sessions"): a session's
 * tunnel is activated once paid, its usage counters are read for metering, and it is torn down
 * when payment stops or the session ends.
 */

/** The tunnel kinds tollway knows. */
export type TunnelKind = "proxy" | "wireguard" | "qos";

/** What the requester asked for when it opened a session. */
export interface TunnelRequest {
  /** The session this tunnel belongs to; unique per provider. */
  readonly sessionId: string;
  readonly kind: TunnelKind;
  /**
   * Kind-specific parameters from the requester, validated by the driver: for `wireguard` the
   * requester's public key; for `qos` the flow (addresses, ports, protocol) and the rate.
   */
  readonly params: Readonly<Record<string, string | number>>;
}

/** What the requester needs to use the tunnel (sent in READY). */
export type TunnelConfig = Readonly<Record<string, string | number>>;

/** Cumulative counters of one session's tunnel since activation. */
export interface TunnelUsage {
  /** Bytes from the requester through the tunnel. */
  readonly bytesIn: number;
  /** Bytes back to the requester. */
  readonly bytesOut: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
}

/** Why a driver would refuse a request's parameters (a QUOTE answers with it). */
export interface TunnelRefusal {
  /** TUNNEL_PARAMS_INVALID (the parameters are wrong) or TUNNEL_UNAVAILABLE (no room now). */
  readonly code: "TUNNEL_PARAMS_INVALID" | "TUNNEL_UNAVAILABLE";
  readonly reason: string;
}

/** A tunnel driver: one per provider process and kind. */
export interface TunnelDriver {
  readonly kind: TunnelKind;
  /**
   * Whether `activate` would take these parameters now, without changing anything (null: yes).
   * Drivers without the method are asked only by `activate`.
   */
  check?(params: Readonly<Record<string, string | number>>): TunnelRefusal | null;
  /**
   * Brings the session's tunnel up and returns its configuration.
   * @throws an error with a `code` when the parameters are invalid or the system refuses.
   */
  activate(request: TunnelRequest): Promise<TunnelConfig>;
  /**
   * Drivers that can remove a tunnel by themselves (`qos` lanes) take a lease: the tunnel goes
   * at `expiresAt` (ms since the epoch) unless moved later; null lifts it. The node moves it
   * with every durable payment, as a backstop under its own teardown timer.
   */
  setLease?(sessionId: string, expiresAt: number | null): void;
  /** Tears the session's tunnel down at once (idempotent). */
  deactivate(sessionId: string): Promise<void>;
  /** Reads the session's counters (zeros once deactivated). */
  readUsage(sessionId: string): Promise<TunnelUsage>;
  /** Releases everything the driver holds (all sessions, listeners, interfaces). */
  close(): Promise<void>;
}
