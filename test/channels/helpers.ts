/** Shared fixtures of the channels tests: keys, a domain, channels and verified inputs. */
import { createHash } from "node:crypto";
import { createSigner, type ProofSigner } from "../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import type { SignedBalanceProof } from "../../channels/signed.ts";
import { type ChannelState, createChannel } from "../../channels/state/channel-state.ts";
import type { ReceiveBalanceProof } from "../../channels/state/inputs.ts";
import { type TransitionContext, transition } from "../../channels/state/transition.ts";
import type { Role } from "../../channels/types.ts";
import {
  type Address,
  asChannelId,
  type BalanceProof,
  type ChannelDomain,
  type ChannelId,
} from "../../channels/types.ts";

/** A deterministic private key from a label. */
export function keyOf(label: string): Uint8Array {
  return createHash("sha256").update(`tollway-test:${label}`).digest();
}

export const domain: ChannelDomain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
export const otherDomain: ChannelDomain = {
  chainId: 1n,
  verifyingContract: domain.verifyingContract,
};

export const alice: ProofSigner = createSigner(keyOf("alice"));
export const bob: ProofSigner = createSigner(keyOf("bob"));
export const mallory: ProofSigner = createSigner(keyOf("mallory"));

/** A channel id from a number. */
export function channelIdOf(n: number): ChannelId {
  return asChannelId(`0x${n.toString(16).padStart(64, "0")}`);
}

/** Contexts for alice (A) and bob (B). */
export const ctxA: TransitionContext = { now: 1_000n, blockNumber: 1n, signer: alice };
export const ctxB: TransitionContext = { now: 1_000n, blockNumber: 1n, signer: bob };

/** Both views of an open channel between alice (A) and bob (B) with the given deposits. */
export function openPair(
  depositA: bigint,
  depositB: bigint,
  id: ChannelId = channelIdOf(1),
): { a: ChannelState; b: ChannelState } {
  const make = (self: Role) => {
    let s = createChannel({
      channelId: id,
      domain,
      participantA: alice.address,
      participantB: bob.address,
      self,
      settleTimeout: 600n,
    });
    const ctx = self === "A" ? ctxA : ctxB;
    s = transition(s, { type: "ChainChannelOpened", channelId: id, depositA }, ctx).state;
    if (depositB > 0n) {
      s = transition(
        s,
        { type: "ChainDeposited", channelId: id, participant: "B", total: depositB },
        ctx,
      ).state;
    }
    return s;
  };
  return { a: make("A"), b: make("B") };
}

const verifier = new ProofVerifier({ mode: "recover" });

/** Wraps a signed proof as the shell would: verified under `d` against `expected`. */
export function received(
  signed: SignedBalanceProof,
  expected: Address,
  d: ChannelDomain = domain,
): ReceiveBalanceProof {
  return {
    type: "ReceiveBalanceProof",
    signed,
    domain: d,
    check: verifier.verifyBalanceProof(d, signed.proof, signed.signature, expected),
  };
}

/** Signs a proof with `signer` under `d`. */
export function signed(
  signer: ProofSigner,
  proof: BalanceProof,
  d: ChannelDomain = domain,
): SignedBalanceProof {
  return { proof, signature: signer.signBalanceProof(d, proof) };
}
