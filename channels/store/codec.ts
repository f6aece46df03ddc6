/**
 * Encodings of stored values. Proofs, the hot path, are fixed binary records; the channel record
 * (parameters, on-chain status, settlement), written rarely, is JSON with bigints as decimal
 * strings and bytes as hex. Every decoder validates and throws STORE_CORRUPT on bad input.
 */
import { ChannelError } from "../errors.ts";
import type { SignedBalanceProof } from "../signed.ts";
import type { ChannelState, OnChainClose, PendingSettlement } from "../state/channel-state.ts";
import type { Address, BalanceProof, ChannelId } from "../types.ts";
import { readUint64BE, readUint256BE, writeUint64BE, writeUint256BE } from "../uint-bytes.ts";

/** Encodes a signed proof: nonce (8 bytes BE) ‖ transferred (32 BE) ‖ sigLen (1) ‖ signature. */
export function encodeSignedProof(signed: SignedBalanceProof): Buffer {
  const sig = signed.signature;
  const out = Buffer.allocUnsafe(41 + sig.length);
  const { nonce, transferred } = signed.proof;
  writeUint64BE(out, 0, nonce);
  writeUint256BE(out, 8, transferred);
  out[40] = sig.length;
  out.set(sig, 41);
  return out;
}

/**
 * Decodes a signed proof of channel `channelId`.
 * @throws ChannelError STORE_CORRUPT when the record is malformed.
 */
export function decodeSignedProof(
  channelId: ChannelId,
  buf: Uint8Array,
  key: string,
): SignedBalanceProof {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 41 || b.length !== 41 + b[40]! || (b[40] !== 64 && b[40] !== 65)) {
    throw corrupt(key, "bad proof record length");
  }
  const nonce = readUint64BE(b, 0);
  const transferred = readUint256BE(b, 8);
  const proof: BalanceProof = { channelId, nonce, transferred };
  return { proof, signature: Uint8Array.from(b.subarray(41)) };
}

/** The part of `ChannelState` kept in the channel record (everything but the two proofs). */
export type ChannelRecord = Omit<ChannelState, "sent" | "received">;

/** Encodes the channel record as JSON. */
export function encodeChannelRecord(state: ChannelState): Buffer {
  const { sent: _sent, received: _received, ...record } = state;
  return Buffer.from(JSON.stringify(record, replacer));
}

/**
 * Decodes a channel record.
 * @throws ChannelError STORE_CORRUPT when it is not a valid record.
 */
export function decodeChannelRecord(buf: Uint8Array, key: string): ChannelRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("utf8"));
  } catch (err) {
    throw corrupt(key, "channel record is not JSON", err);
  }
  try {
    return reviveRecord(raw);
  } catch (err) {
    throw corrupt(key, `channel record malformed: ${(err as Error).message}`, err);
  }
}

function corrupt(key: string, message: string, cause?: unknown): ChannelError {
  return new ChannelError("STORE_CORRUPT", message, { key }, cause);
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString("hex")}`;
  return value;
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${what}: object`);
  return v as Json;
}

function big(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^\d+$/.test(v)) throw new Error(`${what}: integer string`);
  return BigInt(v);
}

function hex(v: unknown, what: string, bytes?: number): `0x${string}` {
  if (typeof v !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(v)) throw new Error(`${what}: hex`);
  if (bytes !== undefined && v.length !== 2 + 2 * bytes) throw new Error(`${what}: ${bytes} bytes`);
  return v as `0x${string}`;
}

function bytes(v: unknown, what: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex(v, what).slice(2), "hex"));
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== "string" || !allowed.includes(v as T)) throw new Error(`${what}: ${allowed}`);
  return v as T;
}

function reviveRecord(raw: unknown): ChannelRecord {
  const r = obj(raw, "record");
  const p = obj(r.params, "params");
  const d = obj(p.domain, "domain");
  const channelId = hex(p.channelId, "channelId", 32) as ChannelId;
  const params = {
    channelId,
    domain: {
      chainId: big(d.chainId, "chainId"),
      verifyingContract: hex(d.verifyingContract, "verifyingContract", 20) as Address,
    },
    participantA: hex(p.participantA, "participantA", 20) as Address,
    participantB: hex(p.participantB, "participantB", 20) as Address,
    self: oneOf(p.self, ["A", "B"] as const, "self"),
    settleTimeout: big(p.settleTimeout, "settleTimeout"),
  };
  let settlement: PendingSettlement | null = null;
  if (r.settlement !== null) {
    const s = obj(r.settlement, "settlement");
    const st = obj(s.settlement, "settlement.settlement");
    settlement = {
      settlement: {
        channelId,
        payoutA: big(st.payoutA, "payoutA"),
        payoutB: big(st.payoutB, "payoutB"),
      },
      proposedBy: oneOf(s.proposedBy, ["A", "B"] as const, "proposedBy"),
      signatureA: s.signatureA === null ? null : bytes(s.signatureA, "signatureA"),
      signatureB: s.signatureB === null ? null : bytes(s.signatureB, "signatureB"),
    };
  }
  let close: OnChainClose | null = null;
  if (r.close !== null) {
    const c = obj(r.close, "close");
    // Records written before the dispute machine took over also hold the chain's proofs: ignored.
    close = {
      closedBy: oneOf(c.closedBy, ["A", "B"] as const, "closedBy"),
      settleDeadline: big(c.settleDeadline, "settleDeadline"),
    };
  }
  let payouts: ChannelRecord["payouts"] = null;
  if (r.payouts !== null) {
    const o = obj(r.payouts, "payouts");
    if (typeof o.cooperative !== "boolean") throw new Error("payouts.cooperative: boolean");
    payouts = {
      payoutA: big(o.payoutA, "payoutA"),
      payoutB: big(o.payoutB, "payoutB"),
      cooperative: o.cooperative,
    };
  }
  return {
    params,
    status: oneOf(r.status, ["opening", "open", "closed", "settled"] as const, "status"),
    depositA: big(r.depositA, "depositA"),
    depositB: big(r.depositB, "depositB"),
    settlement,
    close,
    payouts,
  };
}
