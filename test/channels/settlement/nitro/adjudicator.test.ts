/**
 * States tollway signs, against the deployed NitroAdjudicator (with ConsensusApp): an ERC-20
 * deposit is credited to the channel id we derive; `challenge`, `checkpoint` and `conclude` take
 * our states and store exactly the state and outcome hashes we compute; a tampered state or
 * signature is refused and changes nothing; the outcome is paid out. Prints the gas of each step.
 */
import { type HDNodeWallet, type Log, MaxUint256, ZeroHash as ZERO } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hashExit,
  hashNitroState,
  nitroChannelId,
  packNitroStatus,
  statusFingerprint,
} from "../../../../channels/settlement/nitro/encoding.ts";
import {
  signChallenge,
  signedVariablePart,
  signState,
  toNitroSignature,
} from "../../../../channels/settlement/nitro/signatures.ts";
import type {
  Exit,
  FixedPart,
  SignedVariablePart,
  VariablePart,
} from "../../../../channels/settlement/nitro/types.ts";
import type { ChannelId } from "../../../../channels/types.ts";
import { mined, type NitroFixture, nitroFixture, signerOf } from "./fixture.ts";
import { expectRefused } from "./refused.ts";

const D = 10n ** 18n;
const ZERO_HASH = ZERO as `0x${string}`;
let f: NitroFixture;
const gas: Record<string, bigint> = {};

beforeAll(async () => {
  f = await nitroFixture();
  for (const w of [f.alice, f.bob]) {
    await mined(f.token.connect(w).approve(f.nitro.adjudicator, MaxUint256));
  }
});
afterAll(async () => {
  console.log(
    `nitro gas: ${Object.entries(gas)
      .map(([op, g]) => `${op} ${g}`)
      .join(", ")}`,
  );
  await f.connection.close();
});

const vp = (outcome: Exit, turnNum: number, isFinal = false): VariablePart => ({
  outcome,
  appData: "0x",
  turnNum,
  isFinal,
});
const signedBy = (fp: FixedPart, v: VariablePart, ...wallets: HDNodeWallet[]) =>
  signedVariablePart(
    v,
    wallets.map((w) => signState(signerOf(w), fp, v)),
  );
const challengerSig = (fp: FixedPart, v: VariablePart, w: HDNodeWallet) =>
  toNitroSignature(signChallenge(signerOf(w), fp, v));

/** The adjudicator's events in a receipt, by name. */
function events(receipt: { logs: readonly Log[] }, name: string) {
  return receipt.logs
    .filter((l) => l.address === f.nitro.adjudicator)
    .map((l) => f.adjudicator.interface.parseLog(l)!)
    .filter((e) => e.name === name);
}

async function timestampOf(receipt: { blockNumber: number }): Promise<number> {
  return (await f.provider.getBlock(receipt.blockNumber))!.timestamp;
}

/** A channel of alice and bob with `a` and `b` deposited. */
async function funded(a: bigint, b: bigint) {
  const fp = f.fixedPart(f.alice, f.bob);
  const id = nitroChannelId(fp);
  if (a > 0n) await mined(f.as(f.alice).deposit(f.tokenAddress, id, 0n, a));
  if (b > 0n) await mined(f.as(f.bob).deposit(f.tokenAddress, id, a, b));
  return { fp, id };
}

const statusOf = (id: ChannelId): Promise<string> => f.adjudicator.statusOf(id);

describe("NitroAdjudicator takes the states tollway signs", () => {
  it("credits an ERC-20 deposit to a channel id, and checks what the depositor believes is held", async () => {
    const fp = f.fixedPart(f.alice, f.bob);
    const id = nitroChannelId(fp);
    const first = await mined(f.as(f.alice).deposit(f.tokenAddress, id, 0n, 10n * D));
    gas.deposit = first.gasUsed;
    const [ev] = events(first, "Deposited");
    expect(ev!.args.destination).toBe(id);
    expect(ev!.args.destinationHoldings).toBe(10n * D);
    // The depositor says what it believes is held: a stale belief is refused.
    await expectRefused(f.as(f.bob).deposit(f.tokenAddress, id, 0n, 5n * D), { kind: "error" });
    const second = await mined(f.as(f.bob).deposit(f.tokenAddress, id, 10n * D, 5n * D));
    gas.depositSecond = second.gasUsed;
    expect(await f.adjudicator.holdings(f.tokenAddress, id)).toBe(15n * D);
  });

  it("challenge takes a state both signed and stores its state and outcome hashes", async () => {
    const { fp, id } = await funded(6n * D, 4n * D);
    const v = vp(
      f.erc20Outcome([
        [f.alice, 7n * D],
        [f.bob, 3n * D],
      ]),
      5,
    );
    const receipt = await mined(
      f.as(f.bob).challenge(fp, [], signedBy(fp, v, f.alice, f.bob), challengerSig(fp, v, f.bob)),
    );
    gas.challenge = receipt.gasUsed;
    const finalizesAt = (await timestampOf(receipt)) + fp.challengeDuration;
    const [ev] = events(receipt, "ChallengeRegistered");
    expect(ev!.args.channelId).toBe(id);
    expect(ev!.args.finalizesAt).toBe(BigInt(finalizesAt));
    const fingerprint = statusFingerprint(hashNitroState(fp, v), hashExit(v.outcome));
    expect(await statusOf(id)).toBe(
      packNitroStatus({ turnNumRecord: 5, finalizesAt, fingerprint }),
    );
    expect((await f.adjudicator.unpackStatus(id)).toArray()).toEqual([
      5n,
      BigInt(finalizesAt),
      fingerprint,
    ]);
  });

  it("refuses a tampered state, a stranger's signature, a lone signature and a stranger's challenge, and stores nothing", async () => {
    const { fp, id } = await funded(5n * D, 5n * D);
    const v = vp(
      f.erc20Outcome([
        [f.alice, 5n * D],
        [f.bob, 5n * D],
      ]),
      3,
    );
    const good = signedBy(fp, v, f.alice, f.bob);
    const tamperedOutcome: SignedVariablePart = {
      ...good,
      variablePart: vp(
        f.erc20Outcome([
          [f.alice, 1n * D],
          [f.bob, 9n * D],
        ]),
        3,
      ),
    };
    const tamperedTurn: SignedVariablePart = { ...good, variablePart: vp(v.outcome, 4) };
    const flippedV: SignedVariablePart = {
      ...good,
      sigs: good.sigs.map((s, i) => (i === 0 ? { ...s, v: s.v === 27 ? 28 : 27 } : s)),
    };
    const otherChannel = { ...fp, channelNonce: fp.channelNonce + 1_000n };
    const cases: [FixedPart, SignedVariablePart, HDNodeWallet][] = [
      [fp, tamperedOutcome, f.alice],
      [fp, tamperedTurn, f.alice],
      [fp, flippedV, f.alice],
      [fp, signedBy(fp, v, f.alice, f.carol), f.alice],
      [fp, signedBy(fp, v, f.alice), f.alice],
      [otherChannel, good, f.alice],
      // Well signed, but challenged by someone outside the channel.
      [fp, good, f.carol],
    ];
    for (const [fixed, candidate, challenger] of cases) {
      await expectRefused(
        f
          .as(f.alice)
          .challenge(
            fixed,
            [],
            candidate,
            challengerSig(fixed, candidate.variablePart, challenger),
          ),
        { kind: "error" },
      );
    }
    // The challenger's signature must be over the challenged state.
    await expectRefused(
      f.as(f.alice).challenge(fp, [], good, challengerSig(fp, vp(v.outcome, 9), f.alice)),
      { kind: "error" },
    );
    expect(await statusOf(id)).toBe(ZERO_HASH);
  });

  it("checkpoint with a newer state clears a challenge; an older or tampered one is refused", async () => {
    const { fp, id } = await funded(5n * D, 5n * D);
    const old = vp(
      f.erc20Outcome([
        [f.alice, 9n * D],
        [f.bob, 1n * D],
      ]),
      2,
    );
    await mined(
      f
        .as(f.alice)
        .challenge(fp, [], signedBy(fp, old, f.alice, f.bob), challengerSig(fp, old, f.alice)),
    );
    const newer = vp(
      f.erc20Outcome([
        [f.alice, 4n * D],
        [f.bob, 6n * D],
      ]),
      7,
    );
    await expectRefused(
      f.as(f.bob).checkpoint(fp, [], {
        ...signedBy(fp, newer, f.alice, f.bob),
        variablePart: vp(newer.outcome, 8),
      }),
      { kind: "error" },
    );
    await expectRefused(f.as(f.bob).checkpoint(fp, [], signedBy(fp, old, f.alice, f.bob)), {
      kind: "error",
    });
    const receipt = await mined(
      f.as(f.bob).checkpoint(fp, [], signedBy(fp, newer, f.alice, f.bob)),
    );
    gas.checkpoint = receipt.gasUsed;
    const [ev] = events(receipt, "ChallengeCleared");
    expect(ev!.args.channelId).toBe(id);
    expect(ev!.args.newTurnNumRecord).toBe(7n);
    expect(await statusOf(id)).toBe(
      packNitroStatus({
        turnNumRecord: 7,
        finalizesAt: 0,
        fingerprint: statusFingerprint(ZERO_HASH, ZERO_HASH),
      }),
    );
    // On an open channel a checkpoint is a Checkpointed event.
    const later = vp(newer.outcome, 8);
    const open = await mined(f.as(f.alice).checkpoint(fp, [], signedBy(fp, later, f.alice, f.bob)));
    gas.checkpointOpen = open.gasUsed;
    expect(events(open, "Checkpointed")[0]!.args.newTurnNumRecord).toBe(8n);
  });

  it("conclude takes a final state both signed; transferAllAssets then pays its outcome", async () => {
    const { fp, id } = await funded(6n * D, 4n * D);
    const v = vp(
      f.erc20Outcome([
        [f.alice, 2n * D],
        [f.bob, 8n * D],
      ]),
      11,
      true,
    );
    await expectRefused(
      f.as(f.alice).conclude(fp, signedBy(fp, vp(v.outcome, 11), f.alice, f.bob)),
      {
        kind: "error",
      },
    );
    await expectRefused(f.as(f.alice).conclude(fp, signedBy(fp, v, f.alice)), { kind: "error" });
    await expectRefused(
      f.as(f.alice).conclude(fp, {
        ...signedBy(fp, v, f.alice, f.bob),
        variablePart: vp(
          f.erc20Outcome([
            [f.alice, 8n * D],
            [f.bob, 2n * D],
          ]),
          11,
          true,
        ),
      }),
      { kind: "error" },
    );
    const receipt = await mined(f.as(f.alice).conclude(fp, signedBy(fp, v, f.alice, f.bob)));
    gas.conclude = receipt.gasUsed;
    const at = await timestampOf(receipt);
    expect(events(receipt, "Concluded")[0]!.args.channelId).toBe(id);
    expect(await statusOf(id)).toBe(
      packNitroStatus({
        turnNumRecord: 0,
        finalizesAt: at,
        fingerprint: statusFingerprint(ZERO_HASH, hashExit(v.outcome)),
      }),
    );

    const before = await balances();
    const paid = await mined(f.as(f.bob).transferAllAssets(id, v.outcome, ZERO_HASH));
    gas.transferAllAssets = paid.gasUsed;
    const after = await balances();
    expect(after.alice - before.alice).toBe(2n * D);
    expect(after.bob - before.bob).toBe(8n * D);
    expect(await f.adjudicator.holdings(f.tokenAddress, id)).toBe(0n);
    // Everything paid: the adjudicator forgets the channel.
    expect(await statusOf(id)).toBe(ZERO_HASH);
  });

  it("concludeAndTransferAllAssets concludes and pays in one transaction", async () => {
    const { fp, id } = await funded(6n * D, 4n * D);
    const v = vp(
      f.erc20Outcome([
        [f.alice, 1n * D],
        [f.bob, 9n * D],
      ]),
      4,
      true,
    );
    const before = await balances();
    const receipt = await mined(
      f.as(f.alice).concludeAndTransferAllAssets(fp, signedBy(fp, v, f.alice, f.bob)),
    );
    gas.concludeAndTransferAllAssets = receipt.gasUsed;
    const after = await balances();
    expect(after.alice - before.alice).toBe(1n * D);
    expect(after.bob - before.bob).toBe(9n * D);
    expect(await f.adjudicator.holdings(f.tokenAddress, id)).toBe(0n);
  });
});

async function balances() {
  return {
    alice: await f.token.balanceOf(f.alice.address),
    bob: await f.token.balanceOf(f.bob.address),
  };
}
