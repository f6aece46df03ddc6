/**
 * Error codes of the relay layer, the WebSocket close codes they map to, and the error class
 * that carries both. Peer input is rejected with values (an ERROR frame with a code); only shell
 * failures and local misuse throw.
 */
import {
  type ChannelErrorCode,
  type ErrorDetails,
  type Result,
  TollwayError,
} from "../channels/index.ts";

/**
 * Every machine-readable code the relay can report, in an ERROR or CLOSE frame or a thrown
 * `RelayError`. Channel rule violations (bad nonce, bad signature, …) keep their channel codes.
 */
export type RelayErrorCode =
  // frames
  | "FRAME_TOO_LARGE"
  | "FRAME_MALFORMED"
  | "FRAME_TOO_DEEP"
  | "FRAME_UNKNOWN_TYPE"
  | "FRAME_UNEXPECTED"
  | "RATE_LIMITED"
  // handshake
  | "VERSION_UNSUPPORTED"
  | "AUTH_FAILED"
  | "AUTH_TIMEOUT"
  // connections
  | "CONNECTION_LIMIT"
  | "IDLE_TIMEOUT"
  // sessions
  | "SESSION_UNKNOWN"
  | "SESSION_BUSY"
  /** The channel's own requester opened it anew (e.g. after a restart); this session ended. */
  | "SESSION_REPLACED"
  /** The provider billed a debt above the requester's `maxDebt`. */
  | "DEBT_TOO_HIGH"
  | "CHANNEL_UNKNOWN"
  /** OPEN's reference is not one the provider's settlement backend made, or names another channel. */
  | "CHANNEL_REF_INVALID"
  | "DIRECTORY_BUSY"
  | "CHANNEL_NOT_PARTICIPANT"
  | "MODE_UNSUPPORTED"
  | "PRICE_TOO_LOW"
  | "TUNNEL_UNAVAILABLE"
  | "TUNNEL_FAILED"
  | "TUNNEL_PARAMS_INVALID"
  | "CREDIT_EXHAUSTED"
  | "USAGE_OVERCLAIM"
  | "CLOSED_BY_PEER"
  | "CLOSED_LOCALLY"
  | "CONNECTION_LOST"
  | "SHUTTING_DOWN"
  | "TIMEOUT"
  | "INTERNAL"
  // load: admission, the proof pipeline's bounds
  | "BUSY"
  | "PROOF_QUEUE_FULL"
  | "TOO_MANY_INVALID_PROOFS"
  // the channel's own rules (nonce, signature, balance, settlement, store)
  | ChannelErrorCode;

/**
 * WebSocket close codes the relay uses (RFC 6455 §7.4; 4000–4999 are application codes).
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** The node is at a connection limit (RFC 6455's "Try Again Later"). */
  TRY_AGAIN_LATER: 1013,
  AUTH_TIMEOUT: 4001,
  /** Authenticated, but no channel opened on the connection in time. */
  IDLE_TIMEOUT: 4002,
  AUTH_FAILED: 4003,
  RATE_LIMITED: 4008,
  VERSION_UNSUPPORTED: 4010,
} as const;

/** One of the close codes above. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** The close code a fatal error of each code ends the connection with. */
export function closeCodeOf(code: RelayErrorCode): CloseCodeValue {
  switch (code) {
    case "AUTH_TIMEOUT":
      return CloseCode.AUTH_TIMEOUT;
    case "AUTH_FAILED":
      return CloseCode.AUTH_FAILED;
    case "CONNECTION_LIMIT":
      return CloseCode.TRY_AGAIN_LATER;
    case "IDLE_TIMEOUT":
      return CloseCode.IDLE_TIMEOUT;
    case "RATE_LIMITED":
      return CloseCode.RATE_LIMITED;
    case "VERSION_UNSUPPORTED":
      return CloseCode.VERSION_UNSUPPORTED;
    case "FRAME_TOO_LARGE":
      return CloseCode.MESSAGE_TOO_BIG;
    case "FRAME_MALFORMED":
    case "FRAME_TOO_DEEP":
    case "FRAME_UNKNOWN_TYPE":
    case "FRAME_UNEXPECTED":
      return CloseCode.PROTOCOL_ERROR;
    case "SHUTTING_DOWN":
      return CloseCode.GOING_AWAY;
    case "INTERNAL":
      return CloseCode.INTERNAL_ERROR;
    default:
      return CloseCode.POLICY_VIOLATION;
  }
}

/**
 * A thrown relay error: a code, the WebSocket close code that goes with it, and the details that
 * matter.
 */
export class RelayError extends TollwayError<RelayErrorCode> {
  /** The WebSocket close code (as ws sets `err[kStatusCode]`). */
  readonly closeCode: number;

  /**
   * @param code - machine-readable code
   * @param message - short human-readable message
   * @param details - facts that matter (session, channel, frame type, limits)
   * @param options - the close code (default: `closeCodeOf(code)`) and the cause
   */
  constructor(
    code: RelayErrorCode,
    message: string,
    details?: ErrorDetails,
    options: { closeCode?: number; cause?: unknown } = {},
  ) {
    super(code, message, { details, cause: options.cause });
    this.name = "RelayError";
    this.closeCode = options.closeCode ?? closeCodeOf(code);
  }
}

/** True when `err` is a `RelayError`, optionally with the given code. */
export function isRelayError(err: unknown, code?: RelayErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}

/** `{ ok: true, value }` or a rejection with a relay code: the channels layer's `Result`. */
export type RelayResult<T> = Result<T, RelayErrorCode>;
