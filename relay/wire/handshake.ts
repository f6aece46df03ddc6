/**
 * The handshake digest: both sides sign keccak256 over a domain tag, their role, the chain and
 * contract, both addresses and both fresh nonces, so that a signature answers one challenge of
 * one connection and cannot be replayed on another connection, deployment or role.
 */

import type { Address, ChannelDomain } from "../../channels/index.ts";
import { keccak256 } from "../../channels/index.ts";
import { hexBytes, u256 } from "./fields.ts";

const TAG = Buffer.from("tollway/relay/auth/v1");

/** Which side signs. */
export type HandshakeRole = "requester" | "provider";

/** The 32-byte digest `role` signs in the handshake. */
export function handshakeDigest(
  role: HandshakeRole,
  domain: ChannelDomain,
  provider: Address,
  requester: Address,
  providerNonce: Uint8Array,
  requesterNonce: Uint8Array,
): Uint8Array {
  return keccak256(
    Buffer.concat([
      TAG,
      Buffer.from([role === "requester" ? 1 : 2]),
      u256(domain.chainId),
      hexBytes(domain.verifyingContract.toLowerCase()),
      hexBytes(provider.toLowerCase()),
      hexBytes(requester.toLowerCase()),
      providerNonce,
      requesterNonce,
    ]),
  );
}
