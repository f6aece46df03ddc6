/**
 * Where the provider learns that a channel exists: open on chain, with the requester as A and
 * itself as B, and with which deposits. One implementation reads the contract through the
 * ChainClient; an in-memory one serves tests and benchmarks that do not open channels on chain.
 */
import { AbiCoder } from "ethers";
import type { ChainClient } from "../../channels/chain/client.ts";
import { keccak256Hex as keccak256 } from "../../channels/index.ts";
import type { Address, ChannelId } from "../../channels/types.ts";
import type { RelayResult } from "../errors.ts";

/** A channel as the provider needs it. */
export interface ChannelInfo {
  readonly depositA: bigint;
  readonly depositB: bigint;
  /** Settle window, seconds. */
  readonly settleWindow: number;
}

/** What OPEN tells about a channel. */
export interface ChannelQuery {
  readonly channelId: ChannelId;
  readonly requester: Address;
  readonly provider: Address;
  readonly salt: bigint;
  readonly openBlock: bigint;
}

/** Resolves channels named in OPEN frames. */
export interface ChannelDirectory {
  /**
   * Looks a channel up.
   * @returns its deposits, or CHANNEL_NOT_PARTICIPANT (the id does not derive from these two
   *   addresses, salt and block) / CHANNEL_UNKNOWN (not open).
   */
  lookup(query: ChannelQuery): Promise<RelayResult<ChannelInfo>>;
}

/** The contract's `channelIdOf(a, b, salt, openBlock)`: keccak256(abi.encode(...)). */
export function channelIdOf(a: Address, b: Address, salt: bigint, openBlock: bigint): ChannelId {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address", "address", "uint256", "uint256"],
    [a, b, salt, openBlock],
  );
  return keccak256(encoded).toLowerCase() as ChannelId;
}

/**
 * A directory that reads the PaymentChannels contract.
 * @example const node = await createProviderNode({ ..., channels: chainDirectory(chainClient) });
 */
export function chainDirectory(client: ChainClient): ChannelDirectory {
  return {
    async lookup(q) {
      if (channelIdOf(q.requester, q.provider, q.salt, q.openBlock) !== q.channelId) {
        return {
          ok: false,
          code: "CHANNEL_NOT_PARTICIPANT",
          reason: "the channel id does not derive from requester, provider, salt and block",
        };
      }
      const info = await client.readChannel(q.channelId);
      if (info.status !== "open") {
        return { ok: false, code: "CHANNEL_UNKNOWN", reason: `channel is ${info.status}` };
      }
      return {
        ok: true,
        value: {
          depositA: info.depositA,
          depositB: info.depositB,
          settleWindow: info.settleWindow,
        },
      };
    },
  };
}

/** An in-memory directory (tests, benchmarks): channels are registered with `add`. */
export interface MemoryDirectory extends ChannelDirectory {
  /** Registers (or updates) a channel between `requester` (A) and `provider` (B). */
  add(channelId: ChannelId, requester: Address, provider: Address, info: ChannelInfo): void;
}

/** Creates an in-memory directory. */
export function memoryDirectory(): MemoryDirectory {
  const map = new Map<string, { a: string; b: string; info: ChannelInfo }>();
  return {
    add(channelId, requester, provider, info) {
      map.set(channelId.toLowerCase(), {
        a: requester.toLowerCase(),
        b: provider.toLowerCase(),
        info,
      });
    },
    async lookup(q) {
      const c = map.get(q.channelId);
      if (c === undefined) return { ok: false, code: "CHANNEL_UNKNOWN", reason: "no such channel" };
      if (c.a !== q.requester.toLowerCase() || c.b !== q.provider.toLowerCase()) {
        return { ok: false, code: "CHANNEL_NOT_PARTICIPANT", reason: "not your channel" };
      }
      return { ok: true, value: c.info };
    },
  };
}
