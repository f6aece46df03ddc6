/** The conformance suite on the in-memory chain. */
import { MemoryChain } from "../../../channels/settlement/memory/memory-chain.ts";
import { alice, bob, domain, mallory } from "../helpers.ts";
import { settlementConformance } from "./conformance.ts";

settlementConformance("in-memory chain", async () => {
  const funds = 10n ** 24n;
  const chain = new MemoryChain({
    domain,
    balances: [
      [alice.address, funds],
      [bob.address, funds],
      [mallory.address, funds],
    ],
  });
  return {
    alice: chain.backendFor(alice.address),
    bob: chain.backendFor(bob.address),
    carol: chain.backendFor(mallory.address),
    keys: { alice, bob, carol: mallory },
    domain,
    advance: async (seconds) => chain.advance(seconds),
    tokens: async (owner) => chain.balanceOf(owner),
  };
});
