/** The conformance suite on PaymentChannels, on the embedded Hardhat chain. */
import { getBytes, type HDNodeWallet } from "ethers";
import { afterAll } from "vitest";
import { connectChain, providerFor } from "../../../channels/chain/client.ts";
import { createSigner } from "../../../channels/crypto/signer.ts";
import { paymentChannelsSettlement } from "../../../channels/settlement/payment-channels/backend.ts";
import type { Address } from "../../../channels/types.ts";
import { deployFixture, type Fixture } from "../../helpers/chain.ts";
import { settlementConformance } from "./conformance.ts";

let f: Fixture | undefined;
afterAll(() => f?.connection.close());

settlementConformance("PaymentChannels on Hardhat", async () => {
  f = await deployFixture();
  const fx = f;
  const provider = providerFor(fx.connection.provider);
  const channels = (await fx.channels.getAddress()) as Address;
  const backend = async (w: HDNodeWallet) =>
    paymentChannelsSettlement(await connectChain({ signer: w.connect(provider), channels }));
  const client = await connectChain({ signer: fx.deployer.connect(provider), channels });
  const key = (w: HDNodeWallet) => createSigner(getBytes(w.privateKey));
  return {
    alice: await backend(fx.alice),
    bob: await backend(fx.bob),
    carol: await backend(fx.carol),
    keys: { alice: key(fx.alice), bob: key(fx.bob), carol: key(fx.carol) },
    domain: { chainId: fx.chainId, verifyingContract: channels },
    advance: (seconds) => fx.advance(seconds),
    tokens: (owner) => client.tokenBalance(owner),
  };
});
