/**
 * Two direct fund/defund cores against the deployed NitroAdjudicator on the embedded chain, from
 * prefund to payout: the shell here carries out their effects (messages between them, deposits,
 * conclude-and-transfer) and feeds back the adjudicator's `Deposited` and `AllocationUpdated`
 * events; the tokens each participant gets back are what the final outcome gives it.
 */
import { MaxUint256, type TransactionReceipt } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProofVerifier } from "../../../../../channels/crypto/verifier.ts";
import {
  type DirectDefundState,
  directDefundTransition,
  startDirectDefund,
} from "../../../../../channels/settlement/nitro/protocols/direct-defund.ts";
import {
  type DirectFundState,
  directFundTransition,
  startDirectFund,
} from "../../../../../channels/settlement/nitro/protocols/direct-fund.ts";
import type {
  ChainNitroHoldings,
  ObjectiveContext,
  ObjectiveEffect,
  ObjectiveInput,
  ObjectiveResult,
} from "../../../../../channels/settlement/nitro/protocols/objective.ts";
import type { Exit, FixedPart } from "../../../../../channels/settlement/nitro/types.ts";
import type { ChannelId } from "../../../../../channels/types.ts";
import { type Adjudicator, mined, type NitroFixture, nitroFixture, signerOf } from "../fixture.ts";

const D = 10n ** 18n;
let f: NitroFixture;

beforeAll(async () => {
  f = await nitroFixture();
  for (const w of [f.alice, f.bob]) {
    await mined(f.token.connect(w).approve(f.nitro.adjudicator, MaxUint256));
  }
});
afterAll(() => f.connection.close());

/** The adjudicator's holdings events in a receipt, as the cores take them. */
function holdingsEvents(receipt: TransactionReceipt, outcome: Exit): ChainNitroHoldings[] {
  const out: ChainNitroHoldings[] = [];
  for (const log of receipt.logs) {
    if (log.address !== f.nitro.adjudicator) continue;
    const e = f.adjudicator.interface.parseLog(log);
    const base = {
      type: "ChainNitroHoldings" as const,
      blockNumber: log.blockNumber,
      logIndex: log.index,
    };
    if (e?.name === "Deposited") {
      out.push({
        ...base,
        channelId: e.args.destination,
        asset: e.args.asset,
        holdings: e.args.destinationHoldings,
      });
    } else if (e?.name === "AllocationUpdated") {
      const asset = outcome[Number(e.args.assetIndex)]!.asset;
      out.push({ ...base, channelId: e.args.channelId, asset, holdings: e.args.finalHoldings });
    }
  }
  return out;
}

/**
 * Runs two cores to completion: every message is delivered, every chain effect is sent from its
 * party's wallet and its events fed to both, one input at a time, until neither has anything due.
 */
async function drive<S>(
  start: readonly ObjectiveResult<S>[],
  transition: (s: S, i: ObjectiveInput, ctx: ObjectiveContext) => ObjectiveResult<S>,
  ctxs: readonly ObjectiveContext[],
  adjudicators: readonly Adjudicator[],
  fixedPart: FixedPart,
  outcome: Exit,
): Promise<{ states: S[]; completed: boolean[]; gas: bigint[] }> {
  const states = start.map((r) => r.state);
  const completed = [false, false];
  const gas: bigint[] = [];
  const queue: { party: number; effect: ObjectiveEffect }[] = start.flatMap((r, party) =>
    r.effects.map((effect) => ({ party, effect })),
  );
  const feed = (party: number, input: ObjectiveInput) => {
    const r = transition(states[party]!, input, ctxs[party]!);
    states[party] = r.state;
    for (const effect of r.effects) queue.push({ party, effect });
  };
  while (queue.length > 0) {
    const { party, effect } = queue.shift()!;
    const a = adjudicators[party]!;
    let receipt: TransactionReceipt | undefined;
    switch (effect.type) {
      case "SendNitroState":
        feed(1 - party, {
          type: "ReceiveNitroState",
          channelId: effect.channelId,
          variablePart: effect.variablePart,
          signature: effect.signature,
        });
        break;
      case "ChainSendNitroDeposit":
        receipt = await mined(
          a.deposit(effect.asset, effect.channelId, effect.expectedHeld, effect.amount),
        );
        break;
      case "ChainSendNitroConcludeAndTransfer":
        receipt = await mined(a.concludeAndTransferAllAssets(fixedPart, effect.candidate));
        break;
      case "NotifyObjectiveCompleted":
        completed[party] = true;
        break;
      case "InvalidReceivedNitroInput":
        throw new Error(`party ${party} refused an input: ${effect.code}`);
    }
    if (receipt !== undefined) {
      gas.push(receipt.gasUsed);
      for (const e of holdingsEvents(receipt, outcome)) for (const p of [0, 1]) feed(p, e);
    }
  }
  return { states, completed, gas };
}

describe("direct fund and defund against the deployed adjudicator", () => {
  it("funds a ledger channel in turn, then concludes a later ledger state and pays out its outcome", async () => {
    const fixedPart = f.fixedPart(f.alice, f.bob);
    const outcome = f.erc20Outcome([
      [f.alice, 7n * D],
      [f.bob, 3n * D],
    ]);
    const verifier = new ProofVerifier();
    const ctxs = [f.alice, f.bob].map((w) => ({ signer: signerOf(w), verifier }));
    const adjudicators = [f.as(f.alice), f.as(f.bob)];
    const balance = async () => [
      await f.token.balanceOf(f.alice.address),
      await f.token.balanceOf(f.bob.address),
    ];
    const before = await balance();

    const fund = await drive<DirectFundState>(
      [0, 1].map((i) => startDirectFund({ fixedPart, myIndex: i, outcome }, ctxs[i]!)),
      directFundTransition,
      ctxs,
      adjudicators,
      fixedPart,
      outcome,
    );
    expect(fund.completed).toEqual([true, true]);
    expect(fund.gas).toHaveLength(2);
    const channelId = fund.states[0]!.channelId as ChannelId;
    expect(await f.adjudicator.holdings(f.tokenAddress, channelId)).toBe(10n * D);
    const funded = await balance();
    expect(funded).toEqual([before[0]! - 7n * D, before[1]! - 3n * D]);

    // A later ledger state both signed (a consensus update, turn 3) moved 3 tokens to bob.
    const moved = f.erc20Outcome([
      [f.alice, 4n * D],
      [f.bob, 6n * D],
    ]);
    const latest = { outcome: moved, appData: "0x" as const, turnNum: 3, isFinal: false };
    const defund = await drive<DirectDefundState>(
      [0, 1].map((i) =>
        startDirectDefund(
          { fixedPart, myIndex: i, latest, holdings: fund.states[i]!.holdings },
          ctxs[i]!,
        ),
      ),
      directDefundTransition,
      ctxs,
      adjudicators,
      fixedPart,
      moved,
    );
    expect(defund.completed).toEqual([true, true]);
    expect(defund.gas).toHaveLength(1);
    expect(await f.adjudicator.holdings(f.tokenAddress, channelId)).toBe(0n);
    expect(defund.states[0]!.final.turnNum).toBe(4);
    // Each gets what the final outcome gives it, and the payout is the deposits, no more or less.
    expect(await balance()).toEqual([funded[0]! + 4n * D, funded[1]! + 6n * D]);
  });
});
