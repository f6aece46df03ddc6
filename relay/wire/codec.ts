/**
 * The wire codec: one reused msgpackr instance, frames as `[type, ...fields]`, the size and the
 * structure (depth, lengths, no extension types: structure.ts) checked before a byte is decoded,
 * and every decoded frame validated (validate.ts) before use.
 */
import { Packr } from "msgpackr";
import type { RelayResult } from "../errors.ts";
import { hexBytes, putU64, putU256, u64, u256 } from "./fields.ts";
import { type AckFrame, type Frame, FrameType } from "./frames.ts";
import { checkStructure } from "./structure.ts";
import { validateFrame } from "./validate.ts";

/** Our own frame size limit (bytes); ws's `maxPayload` sits above it as a hard stop. */
export const MAX_FRAME_BYTES = 4096;

// Plain arrays and maps only: no records, no structure sharing, no bigint or Date extensions,
// so that a peer cannot make the decoder build anything but the few shapes the validators read.
// Maps decode to `Map`, never to objects: a peer's keys (`__proto__`, `toString`, a nested map
// as a key) then never meet a prototype or a property-key conversion.
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: false,
  int64AsType: "number",
  bundleStrings: false,
  structuredClone: false,
});

/**
 * Decodes and validates one frame.
 * @param data - the WebSocket message
 * @param maxBytes - size limit, checked before decoding
 * @returns the frame, or FRAME_TOO_LARGE / FRAME_TOO_DEEP / FRAME_MALFORMED /
 *   FRAME_UNKNOWN_TYPE; it never throws, whatever the bytes
 */
export function decodeFrame(data: Uint8Array, maxBytes = MAX_FRAME_BYTES): RelayResult<Frame> {
  if (data.byteLength > maxBytes) {
    return { ok: false, code: "FRAME_TOO_LARGE", reason: `${data.byteLength} > ${maxBytes} bytes` };
  }
  const shape = checkStructure(data);
  if (!shape.ok) return shape;
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch (err) {
    // Bytes that passed the structure check but not the decoder (a string that is not UTF-8,
    // say): still peer input, refused by value.
    return { ok: false, code: "FRAME_MALFORMED", reason: `not MessagePack (${errorName(err)})` };
  }
  return validateFrame(raw);
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/**
 * Encodes a frame.
 * @throws RangeError when an amount or nonce is outside uint256/uint64.
 */
export function encodeFrame(frame: Frame): Buffer {
  if (frame.type === "ACK") return encodeAck(frame);
  return packr.pack(toArray(frame));
}

/** MessagePack `bin 8` header byte. */
const BIN8 = 0xc4;
/** fixarray(5), ACK, bin8(32) channel id, bin8(8) nonce, bin8(32) transferred, bin8(32) owed. */
const ACK_BYTES = 2 + 34 + 10 + 34 + 34;

/**
 * ACK, the frame a provider sends most (one per channel and durable batch), written straight to
 * its bytes: the same bytes as `packr.pack(toArray(ack))`, without the array and the four field
 * buffers in between.
 */
function encodeAck(f: AckFrame): Buffer {
  const b = Buffer.allocUnsafe(ACK_BYTES);
  b[0] = 0x95;
  b[1] = FrameType.ACK;
  b[2] = BIN8;
  b[3] = 32;
  // A malformed id (never one of the node's own) takes the general path and its checks.
  if (b.write(f.channelId.slice(2), 4, "hex") !== 32) return packr.pack(toArray(f));
  b[36] = BIN8;
  b[37] = 8;
  putU64(b, 38, f.nonce);
  b[46] = BIN8;
  b[47] = 32;
  putU256(b, 48, f.transferred);
  b[80] = BIN8;
  b[81] = 32;
  putU256(b, 82, f.owed);
  return b;
}

/** The wire array of a frame (exported for tests that mutate valid frames). */
export function toArray(f: Frame): unknown[] {
  switch (f.type) {
    case "HELLO":
      return [
        FrameType.HELLO,
        f.version,
        u256(f.chainId),
        hexBytes(f.contract),
        hexBytes(f.provider),
        f.nonce,
      ];
    case "AUTH":
      return [FrameType.AUTH, hexBytes(f.requester), f.nonce, f.signature];
    case "AUTH_OK":
      return [FrameType.AUTH_OK, f.signature];
    case "OPEN":
      return [
        FrameType.OPEN,
        hexBytes(f.channelId),
        hexBytes(f.ref),
        f.dealId,
        f.mode,
        u256(f.unitPrice),
        f.tunnelKind,
        { ...f.tunnelParams },
        u64(f.prepayUnits),
        f.resume,
        null,
      ];
    case "READY":
      return [
        FrameType.READY,
        hexBytes(f.channelId),
        f.sessionId,
        { ...f.tunnel },
        u256(f.creditLimit),
        f.tickMs,
        u64(f.ackedNonce),
        u256(f.ackedTransferred),
        u256(f.base),
        null,
      ];
    case "PAY":
      return [FrameType.PAY, hexBytes(f.channelId), u64(f.nonce), u256(f.transferred), f.signature];
    case "ACK":
      return [
        FrameType.ACK,
        hexBytes(f.channelId),
        u64(f.nonce),
        u256(f.transferred),
        u256(f.owed),
      ];
    case "USAGE":
      return [FrameType.USAGE, f.sessionId, u64(f.units), u256(f.owed)];
    case "WARN":
      return [FrameType.WARN, f.sessionId, f.teardownInMs, u256(f.unpaid)];
    case "CLOSE":
      return [FrameType.CLOSE, f.sessionId, f.code, f.reason.slice(0, 256)];
    case "ERROR":
      return [FrameType.ERROR, f.code, f.message.slice(0, 256), f.ref];
    case "SETTLE_PROPOSE":
    case "SETTLE_SIGN":
      return [
        FrameType[f.type],
        hexBytes(f.channelId),
        u256(f.payoutA),
        u256(f.payoutB),
        f.signature,
      ];
    case "QUOTE":
      return [FrameType.QUOTE, f.quoteId, f.mode, f.tunnelKind, { ...f.tunnelParams }];
    case "QUOTE_OK":
      return [
        FrameType.QUOTE_OK,
        f.quoteId,
        u256(f.unitPrice),
        u256(f.creditLimit),
        f.graceMs,
        f.tickMs,
        f.activateOnCredit,
      ];
    case "ACCEPT":
      return [
        FrameType.ACCEPT,
        hexBytes(f.channelId),
        f.sessionId,
        u64(f.ackedNonce),
        u256(f.ackedTransferred),
        u256(f.billed),
      ];
  }
}

/** Encodes any value with the shared instance (tests use it to build hostile frames). */
export function packRaw(value: unknown): Buffer {
  return packr.pack(value);
}
