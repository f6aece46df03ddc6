/**
 * PaymentChannels' channel reference: the opener, the partner, the salt and the opening block,
 * from which the contract derives the channel id. Resolving one needs no log search: the id it
 * derives binds the participants.
 */
import { AbiCoder, keccak256 } from "ethers";
import type { ChannelParticipants } from "../../chain/types.ts";
import type { Address, ChannelId } from "../../types.ts";
import type { ChannelRef } from "../channel-ref.ts";

/** a (20 bytes) ‖ b (20) ‖ salt (32, big-endian) ‖ openBlock (8, big-endian). */
const REF_HEX_LENGTH = 2 + 2 * (20 + 20 + 32 + 8);
const UINT64_MAX = (1n << 64n) - 1n;

/** The contract's `channelIdOf(a, b, salt, openBlock)`: keccak256(abi.encode(...)). */
export function channelIdOf(p: ChannelParticipants): ChannelId {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address", "address", "uint256", "uint256"],
    [p.a, p.b, p.salt, p.openBlock],
  );
  return keccak256(encoded).toLowerCase() as ChannelId;
}

/** The reference of a channel. */
export function encodeChannelRef(p: ChannelParticipants): ChannelRef {
  if (p.openBlock < 0n || p.openBlock > UINT64_MAX) throw new RangeError("openBlock out of range");
  return `0x${p.a.slice(2)}${p.b.slice(2)}${p.salt.toString(16).padStart(64, "0")}${p.openBlock
    .toString(16)
    .padStart(16, "0")}`.toLowerCase() as ChannelRef;
}

/** The participants a reference names, or `undefined` when it is not a PaymentChannels reference. */
export function decodeChannelRef(ref: ChannelRef): ChannelParticipants | undefined {
  if (ref.length !== REF_HEX_LENGTH || !/^0x[0-9a-f]+$/.test(ref)) return undefined;
  return {
    a: `0x${ref.slice(2, 42)}` as Address,
    b: `0x${ref.slice(42, 82)}` as Address,
    salt: BigInt(`0x${ref.slice(82, 146)}`),
    openBlock: BigInt(`0x${ref.slice(146)}`),
  };
}
