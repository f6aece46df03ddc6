/**
 * The opaque channel reference the wire carries: bytes that each backend encodes from its own
 * data and resolves back to a channel (id, participants, deposits). Only the backend that made a
 * reference reads inside it.
 */

/** A channel reference: 0x-prefixed lowercase hex, at most {@link MAX_CHANNEL_REF_BYTES} bytes. */
export type ChannelRef = `0x${string}` & { readonly __brand: "ChannelRef" };

/** The longest reference a backend may produce (the wire bounds what it accepts). */
export const MAX_CHANNEL_REF_BYTES = 256;

/**
 * Marks a hex string as a channel reference (lowercased), or `undefined` when it is not one:
 * not hex, an odd number of digits, empty or too long.
 */
export function asChannelRef(hex: string): ChannelRef | undefined {
  if (hex.length < 4 || hex.length > 2 + 2 * MAX_CHANNEL_REF_BYTES) return undefined;
  if (!/^0x(?:[0-9a-fA-F]{2})+$/.test(hex)) return undefined;
  return hex.toLowerCase() as ChannelRef;
}
