/**
 * A structural check of MessagePack bytes before the decoder sees them: one pass over the bytes,
 * without recursion (a stack of at most `maxDepth` counts), that refuses nesting deeper than a frame needs, extension types
 * (the wire uses none, and msgpackr would build Errors, RegExps, Sets or references from them),
 * lengths longer than the bytes that follow, and anything after the first value. What passes
 * decodes in time linear in its size, to at most `maxDepth` levels.
 */
import type { RelayResult } from "../errors.ts";

/** Nesting a frame may have: the frame's array, a parameter map inside it, and two to spare. */
export const MAX_FRAME_DEPTH = 4;

const OK: RelayResult<void> = { ok: true, value: undefined };

/**
 * Checks that `data` is exactly one MessagePack value of at most `maxDepth` nested containers,
 * with no extension types.
 * @returns ok, or FRAME_TOO_DEEP / FRAME_MALFORMED (truncated, a length past the end, 0xc1, an
 *   extension type, trailing bytes)
 */
export function checkStructure(data: Uint8Array, maxDepth = MAX_FRAME_DEPTH): RelayResult<void> {
  const end = data.length;
  // Values still to read in each open container; the root "container" holds the one frame.
  const pending: number[] = [1];
  let pos = 0;
  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      continue;
    }
    pending[top]!--;
    if (pos >= end) return malformed("truncated");
    const b = data[pos++]!;
    let items = -1;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0) {
      // fixint
    } else if (b <= 0x8f) {
      items = (b & 0x0f) * 2;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
    } else if (b <= 0xbf) {
      skip = b & 0x1f;
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xc4:
        case 0xd9:
          if (pos + 1 > end) return malformed("truncated");
          skip = 1 + data[pos]!;
          break;
        case 0xc5:
        case 0xda:
          if (pos + 2 > end) return malformed("truncated");
          skip = 2 + u16(data, pos);
          break;
        case 0xc6:
        case 0xdb:
          if (pos + 4 > end) return malformed("truncated");
          skip = 4 + u32(data, pos);
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xdc:
          if (pos + 2 > end) return malformed("truncated");
          items = u16(data, pos);
          skip = 2;
          break;
        case 0xdd:
          if (pos + 4 > end) return malformed("truncated");
          items = u32(data, pos);
          skip = 4;
          break;
        case 0xde:
          if (pos + 2 > end) return malformed("truncated");
          items = u16(data, pos) * 2;
          skip = 2;
          break;
        case 0xdf:
          if (pos + 4 > end) return malformed("truncated");
          items = u32(data, pos) * 2;
          skip = 4;
          break;
        default:
          // 0xc1 (never used) and every extension type: 0xc7–0xc9, 0xd4–0xd8.
          return malformed(`type byte 0x${b.toString(16)} is not used on the wire`);
      }
    }
    if (skip > end - pos) return malformed("a length runs past the end");
    pos += skip;
    if (items >= 0) {
      if (pending.length > maxDepth) {
        return { ok: false, code: "FRAME_TOO_DEEP", reason: `nested deeper than ${maxDepth}` };
      }
      // Every value takes at least a byte: a longer count is a lie the decoder need not hear.
      if (items > end - pos) return malformed("a count runs past the end");
      if (items > 0) pending.push(items);
    }
  }
  if (pos !== end) return malformed("bytes after the frame");
  return OK;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

function malformed(reason: string): RelayResult<void> {
  return { ok: false, code: "FRAME_MALFORMED", reason };
}
