/** Deploys Token and PaymentChannels on Hardhat's in-process network for tests and benchmarks. */
import { getBytes, type HDNodeWallet, type Signature } from "ethers";
import { network } from "hardhat";
import {
  balanceProofDigest,
  eip712Domain,
  settlementDigest,
} from "../../channels/crypto/eip712.ts";
import type { Address, ChannelId } from "../../channels/types.ts";
import { devWallet } from "../../engine/chain/dev-accounts.ts";

export { devWallet };

export const TOKEN_SUPPLY_EACH = 1_000_000n * 10n ** 18n;

export interface FixtureOptions {
  feeBps?: number;
  minSettleWindow?: number;
  maxSettleWindow?: number;
}

/** Connects to a fresh in-process chain, deploys the token and the channel contract. */
export async function deployFixture(opts: FixtureOptions = {}) {
  const connection = await network.connect();
  const { ethers } = connection;
  const provider = ethers.provider;
  const wallets = Array.from({ length: 6 }, (_, i) => devWallet(i).connect(provider));
  const [deployer, alice, bob, carol, feeSink, stranger] = wallets as [
    HDNodeWallet,
    HDNodeWallet,
    HDNodeWallet,
    HDNodeWallet,
    HDNodeWallet,
    HDNodeWallet,
  ];
  const holders = [deployer, alice, bob, carol].map((w) => w.address);
  const token = await ethers.deployContract(
    "Token",
    ["tollway token", "TOLL", holders, holders.map(() => TOKEN_SUPPLY_EACH)],
    deployer,
  );
  const channels = await ethers.deployContract(
    "PaymentChannels",
    [
      await token.getAddress(),
      opts.feeBps ? feeSink.address : ethers.ZeroAddress,
      opts.feeBps ?? 0,
      opts.minSettleWindow ?? 60,
      opts.maxSettleWindow ?? 30 * 24 * 3600,
    ],
    deployer,
  );
  const chainId = (await provider.getNetwork()).chainId;
  const channelsAddress = (await channels.getAddress()) as Address;
  const domain = eip712Domain({ chainId, verifyingContract: channelsAddress });
  return {
    connection,
    ethers,
    provider,
    token,
    channels,
    domain,
    chainId,
    deployer,
    alice,
    bob,
    carol,
    feeSink,
    stranger,
    /** Moves the chain's clock forward and mines a block. */
    async advance(seconds: number) {
      await provider.send("evm_increaseTime", [seconds]);
      await provider.send("evm_mine", []);
    },
    /** A balance proof signed by `signer`, as 65-byte or EIP-2098 64-byte signature bytes. */
    signProof(
      signer: HDNodeWallet,
      channelId: ChannelId,
      nonce: bigint,
      transferred: bigint,
      compact = false,
    ) {
      const sig = signer.signingKey.sign(
        balanceProofDigest(domain, { channelId, nonce, transferred }),
      );
      return encodeSig(sig, compact);
    },
    /** A settlement signed by `signer`. */
    signSettlement(
      signer: HDNodeWallet,
      channelId: ChannelId,
      payoutA: bigint,
      payoutB: bigint,
      compact = false,
    ) {
      const sig = signer.signingKey.sign(settlementDigest(domain, { channelId, payoutA, payoutB }));
      return encodeSig(sig, compact);
    },
  };
}

export type Fixture = Awaited<ReturnType<typeof deployFixture>>;

/** Signature bytes: r‖s‖v (65) or r‖yParityAndS (64, EIP-2098). */
export function encodeSig(sig: Signature, compact: boolean): Uint8Array {
  return getBytes(compact ? sig.compactSerialized : sig.serialized);
}

/** Participants of a channel as the contract takes them. */
export interface ParticipantsArg {
  a: string;
  b: string;
  salt: bigint;
  openBlock: bigint;
}

/** Opens a channel from `opener` to `partner` (allowance already set) and returns its id. */
export async function openChannel(
  f: Fixture,
  opener: HDNodeWallet,
  partner: HDNodeWallet,
  salt: bigint,
  amount: bigint,
  settleWindow = 3600,
): Promise<{ id: ChannelId; p: ParticipantsArg; gasUsed: bigint }> {
  const receipt = await (
    await f.channels.connect(opener).open(partner.address, salt, amount, settleWindow)
  ).wait();
  const p = {
    a: opener.address,
    b: partner.address,
    salt,
    openBlock: BigInt(receipt!.blockNumber),
  };
  const id = (await f.channels.channelIdOf(p.a, p.b, p.salt, p.openBlock)) as ChannelId;
  return { id, p, gasUsed: receipt!.gasUsed };
}

/** ERC-1363 top-up data: abi.encodePacked(bytes32 channelId, bool forB). */
export function depositData(id: ChannelId, forB: boolean): string {
  return `${id}${forB ? "01" : "00"}`;
}

/** The closing state the contract commits to during the settle window. */
export interface ClosingArg {
  a: string;
  b: string;
  depositA: bigint;
  depositB: bigint;
  nonceA: bigint;
  sentA: bigint;
  nonceB: bigint;
  sentB: bigint;
}

/** The closing state right after `closer` closed with the partner's proof (nonce, transferred). */
export function closingAfterClose(
  p: ParticipantsArg,
  deposits: { a: bigint; b: bigint },
  closerIsA: boolean,
  nonce: bigint,
  transferred: bigint,
): ClosingArg {
  return {
    a: p.a,
    b: p.b,
    depositA: deposits.a,
    depositB: deposits.b,
    nonceA: closerIsA ? 0n : nonce,
    sentA: closerIsA ? 0n : transferred,
    nonceB: closerIsA ? nonce : 0n,
    sentB: closerIsA ? transferred : 0n,
  };
}
