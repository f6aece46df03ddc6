/**
 * The control protocol of a running node (ADR 6): one JSON request line per connection on its
 * Unix socket, one JSON response line back. Pure: parsing and encoding only.
 *
 *   → {"op":"ping"}                      ← {"ok":true,"result":{"address","pid","role"}}
 *   → {"op":"close","channelId":"0x…"}   ← {"ok":true,"result":{"channelId","finalizesAt",…}}
 *   → {"op":"poll"}                      ← {"ok":true,"result":{"watched","cursor","events"}}
 *   ← {"ok":false,"error":{"code":"BAD_REQUEST","message":"…"}} on any failure
 */
import { asChannelId, type ChannelId, type Result } from "../../channels/index.ts";

/** Longest request line accepted, bytes (a close is about 100). */
export const MAX_CONTROL_REQUEST_BYTES = 1024;

/** What a client may ask a node. */
export type ControlRequest =
  | { readonly op: "ping" }
  | { readonly op: "close"; readonly channelId: ChannelId }
  | { readonly op: "poll" };

/** A parsed request, or why it was refused. */
export type ControlParse = Result<ControlRequest, "BAD_REQUEST">;

/** Parses one request line (without its newline). */
export function parseControlRequest(line: string): ControlParse {
  const bad = (reason: string): ControlParse => ({ ok: false, code: "BAD_REQUEST", reason });
  if (Buffer.byteLength(line) > MAX_CONTROL_REQUEST_BYTES) return bad("request too long");
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return bad("not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return bad("a request is a JSON object");
  const req = parsed as Record<string, unknown>;
  const keys = Object.keys(req);
  switch (Object.hasOwn(req, "op") ? req.op : undefined) {
    case "ping":
      return keys.length === 1 ? { ok: true, value: { op: "ping" } } : bad("ping takes no fields");
    case "poll":
      return keys.length === 1 ? { ok: true, value: { op: "poll" } } : bad("poll takes no fields");
    case "close": {
      if (keys.length !== 2 || !Object.hasOwn(req, "channelId"))
        return bad("close takes exactly a channelId");
      const id = req.channelId;
      if (typeof id !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(id))
        return bad("channelId is 0x + 64 hex digits");
      return { ok: true, value: { op: "close", channelId: asChannelId(id) } };
    }
    default:
      return bad("op is one of ping, close, poll");
  }
}

/** A node's answer. */
export type ControlResponse =
  | { readonly ok: true; readonly result: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/** Encodes a response as one line (bigints as decimal strings). */
export function encodeControlResponse(r: ControlResponse): string {
  return `${JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`;
}

/** The code of an error a handler threw: its own `code` when it has a well-formed one. */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{0,40}$/.test(code) ? code : "INTERNAL";
}
