/**
 * The relay's wire format: msgpack arrays `[type, ...fields]` through one shared msgpackr
 * instance, uint256 as 32 big-endian bytes, a size and structure check before decoding, a
 * validator per frame, and the handshake digest.
 */
export { decodeFrame, encodeFrame, MAX_FRAME_BYTES, packRaw, toArray } from "./codec.ts";
export { hexBytes, readU64, readU256, u64, u256 } from "./fields.ts";
export type {
  AcceptFrame,
  AckFrame,
  AuthFrame,
  AuthOkFrame,
  CloseFrame,
  ErrorFrame,
  Frame,
  FrameName,
  HelloFrame,
  MeterMode,
  OpenFrame,
  PayFrame,
  ReadyFrame,
  SettleProposeFrame,
  SettleSignFrame,
  UsageFrame,
  WarnFrame,
} from "./frames.ts";
export { FrameType, PROTOCOL_VERSION } from "./frames.ts";
export type { HandshakeRole } from "./handshake.ts";
export { handshakeDigest } from "./handshake.ts";
export { checkStructure, MAX_FRAME_DEPTH } from "./structure.ts";
export { LIMITS, validateFrame } from "./validate.ts";
