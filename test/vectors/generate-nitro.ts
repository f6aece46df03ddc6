/**
 * Writes test/vectors/nitro.json with nitro-protocol's own TypeScript helpers (ethers v5, inside
 * the package) as the reference: channel ids, state hashes, encoded outcomes and their hashes,
 * state and challenge signatures, vouchers and their redemption appData, guarantee metadata and
 * status words. tollway's product code never loads those helpers; this script and only this one
 * does, so that the two implementations are independent.
 *
 * The apps are the addresses the first deployer gives ConsensusApp and VirtualPaymentApp on a
 * fresh chain (Token, PaymentChannels, NitroAdjudicator, ConsensusApp, VirtualPaymentApp at
 * nonces 0 to 4), so the deployed contracts can be checked against the same file.
 *
 *   node test/vectors/generate-nitro.ts
 */
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { getCreateAddress, keccak256, toUtf8Bytes, ZeroAddress } from "ethers";
import { devWallet } from "../helpers/chain.ts";

interface V5Sig {
  readonly v: number;
  readonly r: string;
  readonly s: string;
}
interface Helpers {
  getChannelId(fixedPart: unknown): string;
  hashState(state: unknown): string;
  encodeOutcome(outcome: unknown): string;
  hashOutcome(outcome: unknown): string;
  signState(state: unknown, privateKey: string): { signature: V5Sig };
  signChallengeMessage(signed: readonly unknown[], privateKey: string): V5Sig;
  signVoucher(voucher: unknown, wallet: unknown): Promise<V5Sig>;
  encodeVoucherAmountAndSignature(amount: string, signature: V5Sig): string;
  channelDataToStatus(data: unknown): string;
}
interface OutcomeModule {
  encodeGuaranteeData(g: { left: string; right: string }): string;
}

const require = createRequire(import.meta.url);
const nitroMain = require.resolve("@statechannels/nitro-protocol");
const nitro = require("@statechannels/nitro-protocol") as Helpers;
const outcomeHelpers = createRequire(nitroMain)("./contract/outcome") as OutcomeModule;
const { Wallet: V5Wallet } = createRequire(nitroMain)("ethers") as {
  Wallet: new (key: string) => unknown;
};

const deployer = devWallet(0).address;
const consensusApp = getCreateAddress({ from: deployer, nonce: 3 });
const virtualPaymentApp = getCreateAddress({ from: deployer, nonce: 4 });
const [alice, bob, hub] = [devWallet(1), devWallet(2), devWallet(3)];
const token = getCreateAddress({ from: deployer, nonce: 0 });
const dest = (a: string) => `0x${"00".repeat(12)}${a.slice(2).toLowerCase()}`;
const sigHex = (s: V5Sig) => `${s.r}${s.s.slice(2)}${s.v.toString(16)}`;

const UINT256_MAX = 2n ** 256n - 1n;
const virtualId = keccak256(toUtf8Bytes("a virtual channel"));
const guarantee = outcomeHelpers.encodeGuaranteeData({
  left: dest(alice.address),
  right: dest(hub.address),
});
const erc721Metadata = `0x${7n.toString(16).padStart(64, "0")}`;

const simple = (destination: string, amount: bigint) => ({
  destination,
  amount: amount.toString(),
  allocationType: 0,
  metadata: "0x",
});
const exit = (asset: string, allocations: unknown[], assetType = 0, metadata = "0x") => ({
  asset,
  assetMetadata: { assetType, metadata },
  allocations,
});

const outcomes = [
  [],
  [exit(token, [simple(dest(alice.address), 60n), simple(dest(bob.address), 40n)])],
  [exit(token, [simple(dest(alice.address), 0n), simple(dest(bob.address), UINT256_MAX)])],
  [
    exit(token, [
      simple(dest(alice.address), 5n * 10n ** 18n),
      simple(dest(hub.address), 3n * 10n ** 18n),
      {
        destination: virtualId,
        amount: (2n * 10n ** 18n).toString(),
        allocationType: 2,
        metadata: guarantee,
      },
    ]),
  ],
  [
    exit(ZeroAddress, [simple(dest(alice.address), 1n)]),
    exit(token, [simple(dest(bob.address), 2n)], 1, erc721Metadata),
  ],
];
const fixedParts = [
  {
    participants: [alice.address, bob.address],
    channelNonce: 0n,
    appDefinition: consensusApp,
    challengeDuration: 60,
  },
  {
    participants: [alice.address, bob.address],
    channelNonce: 2n ** 64n - 1n,
    appDefinition: consensusApp,
    challengeDuration: 2 ** 48 - 1,
  },
  {
    participants: [alice.address, hub.address, bob.address],
    channelNonce: 42n,
    appDefinition: virtualPaymentApp,
    challengeDuration: 3600,
  },
];
const keyOf = new Map([alice, bob, hub].map((w) => [w.address, w.privateKey]));

const states = [];
for (const [f, fixedPart] of fixedParts.entries())
  for (const [o, outcome] of outcomes.entries()) {
    const variablePart = {
      outcome,
      appData: o % 2 === 0 ? "0x" : "0x00ff",
      turnNum: [0, 1, 2 ** 48 - 1][(f + o) % 3]!,
      isFinal: o % 2 === 1,
    };
    const state = {
      ...fixedPart,
      channelNonce: fixedPart.channelNonce.toString(),
      ...variablePart,
    };
    const signatures = fixedPart.participants.map((p) => {
      const signed = nitro.signState(state, keyOf.get(p)!);
      return { signer: p, signature: sigHex(signed.signature) };
    });
    const challenger = fixedPart.participants[0]!;
    const challengeSignature = sigHex(
      nitro.signChallengeMessage(
        [{ state, signature: nitro.signState(state, keyOf.get(challenger)!).signature }],
        keyOf.get(challenger)!,
      ),
    );
    states.push({
      fixedPart: { ...fixedPart, channelNonce: fixedPart.channelNonce.toString() },
      variablePart,
      channelId: nitro.getChannelId({
        ...fixedPart,
        channelNonce: fixedPart.channelNonce.toString(),
      }),
      stateHash: nitro.hashState(state),
      encodedOutcome: nitro.encodeOutcome(outcome),
      outcomeHash: nitro.hashOutcome(outcome),
      signatures,
      challenger,
      challengeSignature,
      finalizesAt: 1_700_000_000 + f,
      status: nitro.channelDataToStatus({
        turnNumRecord: variablePart.turnNum,
        finalizesAt: 1_700_000_000 + f,
        state,
        outcome,
      }),
    });
  }

const vouchers = [];
const payer = new V5Wallet(alice.privateKey);
for (const channelId of [virtualId, `0x${"00".repeat(32)}`, `0x${"ff".repeat(32)}`])
  for (const amount of [0n, 1n, 10n ** 18n, UINT256_MAX]) {
    const signature = await nitro.signVoucher({ channelId, amount: amount.toString() }, payer);
    vouchers.push({
      channelId,
      amount: amount.toString(),
      signature: sigHex(signature),
      appData: nitro.encodeVoucherAmountAndSignature(amount.toString(), signature),
    });
  }

const out = {
  comment:
    "Generated by test/vectors/generate-nitro.ts from @statechannels/nitro-protocol's own helpers; do not edit by hand.",
  deployer,
  consensusApp,
  virtualPaymentApp,
  signers: [alice, bob, hub].map((w) => ({ address: w.address, privateKey: w.privateKey })),
  states,
  vouchers,
  guarantee: { left: dest(alice.address), right: dest(hub.address), metadata: guarantee },
};
await writeFile(new URL("./nitro.json", import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
process.stderr.write(`wrote ${states.length} states and ${vouchers.length} vouchers\n`);
