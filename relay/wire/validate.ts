/**
 * Validators: one per frame type, each turning a decoded msgpack array into a typed frame or a
 * rejection with a code. Nothing of a frame is used before it has passed here.
 */
import { bytesToHex, type ChannelRef, MAX_CHANNEL_REF_BYTES } from "../../channels/index.ts";
import { isRelayError, RelayError, type RelayErrorCode, type RelayResult } from "../errors.ts";
import type { TunnelKind } from "../tunnel/driver.ts";
import { readU64, readU256, toAddress, toChannelId } from "./fields.ts";
import { type Frame, FrameType, type MeterMode } from "./frames.ts";

/** Longest string fields (ids, reasons) and the tunnel-parameter limits. */
export const LIMITS = {
  idChars: 64,
  reasonChars: 256,
  paramEntries: 16,
  paramKeyChars: 32,
  paramValueChars: 256,
} as const;

const MODES: readonly MeterMode[] = ["second", "byte", "packet"];
const KINDS: readonly TunnelKind[] = ["proxy", "wireguard", "qos"];
const CODE_RE = /^[A-Z][A-Z0-9_]{0,47}$/;
const KEY_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;

// A bad field unwinds the validator in one throw; `validateFrame` turns it back into a value.
function fail(message: string): never {
  throw new RelayError("FRAME_MALFORMED", message);
}

function bytes(v: unknown, n: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== n) fail(`${what}: expected ${n} bytes`);
  return v;
}

/** A channel reference: 1 to MAX_CHANNEL_REF_BYTES bytes, read as lowercase hex. */
function channelRef(v: unknown): ChannelRef {
  if (!(v instanceof Uint8Array) || v.length === 0 || v.length > MAX_CHANNEL_REF_BYTES) {
    fail(`ref: expected 1 to ${MAX_CHANNEL_REF_BYTES} bytes`);
  }
  return bytesToHex(v) as ChannelRef;
}

function sig(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array) || (v.length !== 65 && v.length !== 64)) {
    fail("signature: expected 64 or 65 bytes");
  }
  return v;
}

function str(v: unknown, max: number, what: string): string {
  if (typeof v !== "string" || v.length > max) fail(`${what}: expected a string of <= ${max}`);
  return v;
}

function id(v: unknown, what: string): string {
  const s = str(v, LIMITS.idChars, what);
  if (s.length === 0) fail(`${what}: empty`);
  return s;
}

function int(v: unknown, max: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    fail(`${what}: expected an integer in [0, ${max}]`);
  }
  return v;
}

function code(v: unknown): RelayErrorCode {
  if (typeof v !== "string" || !CODE_RE.test(v)) fail("code: expected an UPPER_SNAKE code");
  return v as RelayErrorCode;
}

/**
 * A map of short string keys to strings or finite numbers. The decoder hands maps over as `Map`;
 * a plain object (a caller of `validateFrame` with a value of its own) is read by its own
 * enumerable keys only.
 */
function params(v: unknown): Record<string, string | number> {
  let entries: [unknown, unknown][];
  if (v instanceof Map) {
    if (v.size > LIMITS.paramEntries) fail("params: too many entries");
    entries = [...v.entries()];
  } else if (
    v !== null &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    Object.getPrototypeOf(v) === Object.prototype
  ) {
    entries = Object.entries(v);
  } else {
    fail("params: expected a map");
  }
  if (entries.length > LIMITS.paramEntries) fail("params: too many entries");
  const out: Record<string, string | number> = Object.create(null);
  for (const [k, val] of entries) {
    if (typeof k !== "string" || k.length > LIMITS.paramKeyChars || !KEY_RE.test(k)) {
      fail("params: bad key");
    }
    if (typeof val === "string") {
      if (val.length > LIMITS.paramValueChars) fail("params: value too long");
    } else if (typeof val !== "number" || !Number.isFinite(val)) {
      fail("params: values are strings or finite numbers");
    }
    out[k] = val;
  }
  return out;
}

function flag(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") fail(`${what}: expected true or false`);
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== "string" || !allowed.includes(v as T)) fail(`${what}: unknown value`);
  return v as T;
}

function arity(a: readonly unknown[], n: number, name: string): void {
  if (a.length !== n) fail(`${name}: expected ${n - 1} fields, got ${a.length - 1}`);
}

type Validator = (a: readonly unknown[]) => Frame;

const VALIDATORS: Readonly<Record<number, Validator>> = {
  [FrameType.HELLO]: (a) => {
    arity(a, 6, "HELLO");
    return {
      type: "HELLO",
      version: int(a[1], 0xffff, "version"),
      chainId: readU256(bytes(a[2], 32, "chainId")),
      contract: toAddress(bytes(a[3], 20, "contract")),
      provider: toAddress(bytes(a[4], 20, "provider")),
      nonce: bytes(a[5], 32, "nonce"),
    };
  },
  [FrameType.AUTH]: (a) => {
    arity(a, 4, "AUTH");
    return {
      type: "AUTH",
      requester: toAddress(bytes(a[1], 20, "requester")),
      nonce: bytes(a[2], 32, "nonce"),
      signature: sig(a[3]),
    };
  },
  [FrameType.AUTH_OK]: (a) => {
    arity(a, 2, "AUTH_OK");
    return { type: "AUTH_OK", signature: sig(a[1]) };
  },
  [FrameType.OPEN]: (a) => {
    arity(a, 11, "OPEN");
    return {
      type: "OPEN",
      channelId: toChannelId(bytes(a[1], 32, "channelId")),
      ref: channelRef(a[2]),
      dealId: str(a[3], LIMITS.idChars, "dealId"),
      mode: oneOf(a[4], MODES, "mode"),
      unitPrice: readU256(bytes(a[5], 32, "unitPrice")),
      tunnelKind: oneOf(a[6], KINDS, "tunnelKind"),
      tunnelParams: params(a[7]),
      prepayUnits: readU64(bytes(a[8], 8, "prepayUnits")),
      resume: a[9] === null ? null : id(a[9], "resume"),
      // a[10] is reserved (null) for a later field without a version bump
    };
  },
  [FrameType.READY]: (a) => {
    arity(a, 10, "READY");
    return {
      type: "READY",
      channelId: toChannelId(bytes(a[1], 32, "channelId")),
      sessionId: id(a[2], "sessionId"),
      tunnel: params(a[3]),
      creditLimit: readU256(bytes(a[4], 32, "creditLimit")),
      tickMs: int(a[5], 3_600_000, "tickMs"),
      ackedNonce: readU64(bytes(a[6], 8, "ackedNonce")),
      ackedTransferred: readU256(bytes(a[7], 32, "ackedTransferred")),
      base: readU256(bytes(a[8], 32, "base")),
    };
  },
  [FrameType.PAY]: (a) => {
    arity(a, 5, "PAY");
    return {
      type: "PAY",
      channelId: toChannelId(bytes(a[1], 32, "channelId")),
      nonce: readU64(bytes(a[2], 8, "nonce")),
      transferred: readU256(bytes(a[3], 32, "transferred")),
      signature: sig(a[4]),
    };
  },
  [FrameType.ACK]: (a) => {
    arity(a, 5, "ACK");
    return {
      type: "ACK",
      channelId: toChannelId(bytes(a[1], 32, "channelId")),
      nonce: readU64(bytes(a[2], 8, "nonce")),
      transferred: readU256(bytes(a[3], 32, "transferred")),
      owed: readU256(bytes(a[4], 32, "owed")),
    };
  },
  [FrameType.USAGE]: (a) => {
    arity(a, 4, "USAGE");
    return {
      type: "USAGE",
      sessionId: id(a[1], "sessionId"),
      units: readU64(bytes(a[2], 8, "units")),
      owed: readU256(bytes(a[3], 32, "owed")),
    };
  },
  [FrameType.WARN]: (a) => {
    arity(a, 4, "WARN");
    return {
      type: "WARN",
      sessionId: id(a[1], "sessionId"),
      teardownInMs: int(a[2], 86_400_000, "teardownInMs"),
      unpaid: readU256(bytes(a[3], 32, "unpaid")),
    };
  },
  [FrameType.CLOSE]: (a) => {
    arity(a, 4, "CLOSE");
    return {
      type: "CLOSE",
      sessionId: id(a[1], "sessionId"),
      code: code(a[2]),
      reason: str(a[3], LIMITS.reasonChars, "reason"),
    };
  },
  [FrameType.ERROR]: (a) => {
    arity(a, 4, "ERROR");
    return {
      type: "ERROR",
      code: code(a[1]),
      message: str(a[2], LIMITS.reasonChars, "message"),
      ref: a[3] === null ? null : str(a[3], 80, "ref"),
    };
  },
  [FrameType.SETTLE_PROPOSE]: (a) => settle(a, "SETTLE_PROPOSE"),
  [FrameType.SETTLE_SIGN]: (a) => settle(a, "SETTLE_SIGN"),
  [FrameType.QUOTE]: (a) => {
    arity(a, 5, "QUOTE");
    return {
      type: "QUOTE",
      quoteId: id(a[1], "quoteId"),
      mode: oneOf(a[2], MODES, "mode"),
      tunnelKind: oneOf(a[3], KINDS, "tunnelKind"),
      tunnelParams: params(a[4]),
    };
  },
  [FrameType.QUOTE_OK]: (a) => {
    arity(a, 7, "QUOTE_OK");
    return {
      type: "QUOTE_OK",
      quoteId: id(a[1], "quoteId"),
      unitPrice: readU256(bytes(a[2], 32, "unitPrice")),
      creditLimit: readU256(bytes(a[3], 32, "creditLimit")),
      graceMs: int(a[4], 86_400_000, "graceMs"),
      tickMs: int(a[5], 3_600_000, "tickMs"),
      activateOnCredit: flag(a[6], "activateOnCredit"),
    };
  },
  [FrameType.ACCEPT]: (a) => {
    arity(a, 6, "ACCEPT");
    return {
      type: "ACCEPT",
      channelId: toChannelId(bytes(a[1], 32, "channelId")),
      sessionId: id(a[2], "sessionId"),
      ackedNonce: readU64(bytes(a[3], 8, "ackedNonce")),
      ackedTransferred: readU256(bytes(a[4], 32, "ackedTransferred")),
      billed: readU256(bytes(a[5], 32, "billed")),
    };
  },
};

function settle(a: readonly unknown[], type: "SETTLE_PROPOSE" | "SETTLE_SIGN"): Frame {
  arity(a, 5, type);
  return {
    type,
    channelId: toChannelId(bytes(a[1], 32, "channelId")),
    payoutA: readU256(bytes(a[2], 32, "payoutA")),
    payoutB: readU256(bytes(a[3], 32, "payoutB")),
    signature: sig(a[4]),
  };
}

/**
 * Validates a decoded frame. Total: whatever `raw` is, it returns a value and never throws (the
 * reason never converts a peer's value to a string, which could run or recurse).
 * @returns the typed frame, or FRAME_MALFORMED (not an array, bad field) / FRAME_UNKNOWN_TYPE.
 */
export function validateFrame(raw: unknown): RelayResult<Frame> {
  try {
    if (!Array.isArray(raw) || raw.length === 0) {
      return { ok: false, code: "FRAME_MALFORMED", reason: "a frame is a non-empty array" };
    }
    const head: unknown = raw[0];
    const validator =
      typeof head === "number" && Object.hasOwn(VALIDATORS, head) ? VALIDATORS[head] : undefined;
    if (validator === undefined) {
      const what = typeof head === "number" ? `${head}` : `of type ${typeof head}`;
      return { ok: false, code: "FRAME_UNKNOWN_TYPE", reason: `unknown frame type ${what}` };
    }
    return { ok: true, value: validator(raw) };
  } catch (err) {
    if (isRelayError(err, "FRAME_MALFORMED")) {
      return { ok: false, code: "FRAME_MALFORMED", reason: err.shortMessage };
    }
    // Anything else is a bug in a validator, still peer input: refuse it, never crash.
    return { ok: false, code: "FRAME_MALFORMED", reason: "frame could not be read" };
  }
}
