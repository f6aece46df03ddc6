/**
 * The Nitro contracts on Hardhat's in-process network, beside Token and PaymentChannels (deployed
 * as the engine deploys them, at the deployer's nonces 2 to 4), and the helpers the Nitro tests
 * share: signers from the dev accounts and ERC-20 outcomes. No vitest here: bench/ runs it too.
 */
import {
  type BaseContract,
  type BaseContractMethod,
  Contract,
  getBytes,
  type HDNodeWallet,
  type TransactionReceipt,
} from "ethers";
import { createSigner, type ProofSigner } from "../../../../channels/crypto/signer.ts";
import { loadNitroArtifact } from "../../../../channels/settlement/nitro/artifacts.ts";
import { destinationOf } from "../../../../channels/settlement/nitro/encoding.ts";
import type { Exit, FixedPart } from "../../../../channels/settlement/nitro/types.ts";
import type { Address } from "../../../../channels/types.ts";
import { deployNitroContracts } from "../../../../engine/chain/deploy.ts";
import { deployFixture } from "../../../helpers/chain.ts";

/** The adjudicator's functions the tests call, named so that calling them type-checks. */
type AdjudicatorMethod =
  | "deposit"
  | "challenge"
  | "checkpoint"
  | "conclude"
  | "concludeAndTransferAllAssets"
  | "transferAllAssets"
  | "holdings"
  | "statusOf"
  | "unpackStatus"
  | "stateIsSupported";

/** NitroAdjudicator through its artifact's ABI. */
export type Adjudicator = BaseContract & Record<AdjudicatorMethod, BaseContractMethod>;

/** Deploys everything and connects the adjudicator and the apps. */
export async function nitroFixture() {
  const f = await deployFixture();
  const nitro = await deployNitroContracts(f.deployer);
  const contract = (name: "NitroAdjudicator" | "ConsensusApp" | "VirtualPaymentApp", at: string) =>
    new Contract(at, loadNitroArtifact(name).abi, f.deployer);
  const adjudicator = contract("NitroAdjudicator", nitro.adjudicator) as unknown as Adjudicator;
  const tokenAddress = (await f.token.getAddress()) as Address;
  let nonce = 0n;
  return {
    ...f,
    nitro,
    adjudicator,
    consensusApp: contract("ConsensusApp", nitro.consensusApp),
    virtualPaymentApp: contract("VirtualPaymentApp", nitro.virtualPaymentApp),
    tokenAddress,
    /** A fresh ledger-style channel of `a` and `b` under ConsensusApp. */
    fixedPart(a: HDNodeWallet, b: HDNodeWallet, challengeDuration = 60): FixedPart {
      return {
        participants: [a.address as Address, b.address as Address],
        channelNonce: ++nonce,
        appDefinition: nitro.consensusApp,
        challengeDuration,
      };
    },
    /** An outcome in the token paying each wallet its amount, in order. */
    erc20Outcome(payouts: readonly (readonly [HDNodeWallet, bigint])[]): Exit {
      return [
        {
          asset: tokenAddress,
          assetMetadata: { assetType: 0, metadata: "0x" },
          allocations: payouts.map(([w, amount]) => ({
            destination: destinationOf(w.address as Address),
            amount,
            allocationType: 0,
            metadata: "0x",
          })),
        },
      ];
    },
    /** The adjudicator connected as `w`. */
    as(w: HDNodeWallet): Adjudicator {
      return adjudicator.connect(w) as Adjudicator;
    },
  };
}

export type NitroFixture = Awaited<ReturnType<typeof nitroFixture>>;

/** tollway's signer for a dev wallet. */
export function signerOf(w: HDNodeWallet): ProofSigner {
  return createSigner(getBytes(w.privateKey));
}

/** Sends a transaction and returns its receipt (throws when it reverts). */
export async function mined(
  tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>,
): Promise<TransactionReceipt> {
  return (await (await tx).wait())!;
}
