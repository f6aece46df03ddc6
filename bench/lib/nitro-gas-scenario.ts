/**
 * Gas per NitroAdjudicator operation for a two-party ERC-20 channel under ConsensusApp, in the
 * steady state a busy deployment sees: the adjudicator and both participants already hold
 * tokens, both have approved the adjudicator once. Keys, nonces and states are fixed, so the
 * signatures, and with them the calldata gas, are the same on every run.
 */
import { MaxUint256, ZeroHash } from "ethers";
import { nitroChannelId } from "../../channels/settlement/nitro/encoding.ts";
import {
  signChallenge,
  signedVariablePart,
  signState,
  toNitroSignature,
} from "../../channels/settlement/nitro/signatures.ts";
import type { FixedPart, VariablePart } from "../../channels/settlement/nitro/types.ts";
import { mined, nitroFixture, signerOf } from "../../test/channels/settlement/nitro/fixture.ts";

/** The operations measured, in gas. */
export interface NitroGasReport {
  /** The first deposit into a channel (its holdings go from zero). */
  readonly deposit: number;
  /** A second deposit into the same channel. */
  readonly topUp: number;
  /** A challenge with a state both signed (no proof states). */
  readonly challenge: number;
  /** A checkpoint with a newer state that clears a challenge. */
  readonly checkpoint: number;
  /** conclude with a final state both signed. */
  readonly conclude: number;
  /** transferAllAssets of a concluded channel to its two participants. */
  readonly transferAllAssets: number;
  /** The cooperative close: conclude and pay in one transaction. */
  readonly concludeAndTransferAllAssets: number;
}

const D = 10n ** 18n;

/** Runs each operation once on a fresh in-process chain and returns the gas each used. */
export async function measureNitroGas(): Promise<NitroGasReport> {
  const f = await nitroFixture();
  const { alice, bob } = f;
  const gasOf = async (tx: Parameters<typeof mined>[0]) => Number((await mined(tx)).gasUsed);
  const signed = (fp: FixedPart, v: VariablePart) =>
    signedVariablePart(
      v,
      [alice, bob].map((w) => signState(signerOf(w), fp, v)),
    );
  const state = (turnNum: number, a: bigint, b: bigint, isFinal = false): VariablePart => ({
    outcome: f.erc20Outcome([
      [alice, a],
      [bob, b],
    ]),
    appData: "0x",
    turnNum,
    isFinal,
  });

  for (const w of [alice, bob]) {
    await mined(f.token.connect(w).approve(f.nitro.adjudicator, MaxUint256));
  }
  // Warm-up: the adjudicator already holds tokens for another channel.
  const other = nitroChannelId(f.fixedPart(alice, bob));
  await mined(f.as(alice).deposit(f.tokenAddress, other, 0n, D));

  const fp = f.fixedPart(alice, bob);
  const id = nitroChannelId(fp);
  const deposit = await gasOf(f.as(alice).deposit(f.tokenAddress, id, 0n, 6n * D));
  const topUp = await gasOf(f.as(bob).deposit(f.tokenAddress, id, 6n * D, 4n * D));

  const challenged = state(5, 7n * D, 3n * D);
  const challenge = await gasOf(
    f
      .as(bob)
      .challenge(
        fp,
        [],
        signed(fp, challenged),
        toNitroSignature(signChallenge(signerOf(bob), fp, challenged)),
      ),
  );
  const checkpoint = await gasOf(
    f.as(alice).checkpoint(fp, [], signed(fp, state(6, 6n * D, 4n * D))),
  );
  const final = state(7, 2n * D, 8n * D, true);
  const conclude = await gasOf(f.as(alice).conclude(fp, signed(fp, final)));
  const transferAllAssets = await gasOf(f.as(bob).transferAllAssets(id, final.outcome, ZeroHash));

  const fp2 = f.fixedPart(alice, bob);
  const id2 = nitroChannelId(fp2);
  await mined(f.as(alice).deposit(f.tokenAddress, id2, 0n, 6n * D));
  await mined(f.as(bob).deposit(f.tokenAddress, id2, 6n * D, 4n * D));
  const concludeAndTransferAllAssets = await gasOf(
    f.as(alice).concludeAndTransferAllAssets(fp2, signed(fp2, state(3, 1n * D, 9n * D, true))),
  );

  await f.connection.close();
  return {
    deposit,
    topUp,
    challenge,
    checkpoint,
    conclude,
    transferAllAssets,
    concludeAndTransferAllAssets,
  };
}
