import { describe, expect, it } from "vitest";
import { type Address, asChannelId } from "../../../channels/types.ts";
import {
  initialWatcherState,
  type WatcherInput,
  watcherTransition,
} from "../../../channels/watcher/core.ts";

const ME = "0x00000000000000000000000000000000000000b0" as Address;
const A = "0x00000000000000000000000000000000000000a0" as Address;
const X = "0x00000000000000000000000000000000000000c0" as Address;
const id = asChannelId(`0x${"11".repeat(32)}`);
const sig = new Uint8Array(65);
const proof = (nonce: bigint, transferred: bigint) => ({
  proof: { channelId: id, nonce, transferred },
  signature: sig,
});

function run(inputs: WatcherInput[]) {
  let state = initialWatcherState(ME, 0);
  const effects = [];
  for (const i of inputs) {
    const out = watcherTransition(state, i);
    state = out.state;
    effects.push(...out.effects);
  }
  return { state, effects };
}

const opened: WatcherInput = {
  type: "ChainChannelOpened",
  channelId: id,
  a: A,
  b: ME,
  deposit: 10n,
};
const closedByA: WatcherInput = {
  type: "ChainChannelClosed",
  channelId: id,
  closer: A,
  nonce: 0n,
  transferred: 0n,
  finalizesAt: 100,
};
const tick = (now: number, p?: ReturnType<typeof proof>): WatcherInput => ({
  type: "ActionTick",
  now,
  partnerProofs: new Map(p ? [[id, p]] : []),
});

describe("watcher core", () => {
  it("ignores channels it is not in", () => {
    const { state } = run([{ ...opened, a: A, b: X } as WatcherInput]);
    expect(state.channels.size).toBe(0);
  });

  it("tracks deposits and rebuilds the committed closing state", () => {
    const { state, effects } = run([
      opened,
      { type: "ChainDeposited", channelId: id, forB: true, total: 4n },
      closedByA,
    ]);
    expect(state.channels.get(id)?.closing).toEqual({
      a: A,
      b: ME,
      depositA: 10n,
      depositB: 4n,
      nonceA: 0n,
      sentA: 0n,
      nonceB: 0n,
      sentB: 0n,
    });
    expect(effects).toEqual([{ type: "NotifyPartnerClosed", channelId: id, finalizesAt: 100 }]);
  });

  it("submits the partner's latest proof once while the window runs", () => {
    const { effects } = run([opened, closedByA, tick(50, proof(7n, 3n)), tick(60, proof(7n, 3n))]);
    const updates = effects.filter((e) => e.type === "ChainSendUpdateProof");
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({
      ofB: false,
      signed: { proof: { nonce: 7n, transferred: 3n } },
    });
  });

  it("does nothing when the chain already holds a proof as good as ours", () => {
    const { effects } = run([
      opened,
      closedByA,
      { type: "ChainProofUpdated", channelId: id, ofB: false, nonce: 7n, transferred: 3n },
      tick(50, proof(7n, 3n)),
      tick(51, proof(6n, 2n)),
    ]);
    expect(effects.filter((e) => e.type === "ChainSendUpdateProof")).toEqual([]);
  });

  it("retries an update that failed, and settles once the window is over", () => {
    const { effects, state } = run([
      opened,
      closedByA,
      tick(50, proof(7n, 3n)),
      { type: "ActionEffectFailed", channelId: id, effect: "update" },
      tick(51, proof(7n, 3n)),
      { type: "ChainProofUpdated", channelId: id, ofB: false, nonce: 7n, transferred: 3n },
      tick(100, proof(7n, 3n)),
      tick(101, proof(7n, 3n)),
    ]);
    expect(effects.filter((e) => e.type === "ChainSendUpdateProof")).toHaveLength(2);
    const settles = effects.filter((e) => e.type === "ChainSendSettle");
    expect(settles).toHaveLength(1);
    expect(settles[0]).toMatchObject({ closing: { nonceA: 7n, sentA: 3n } });
    expect(
      watcherTransition(state, { type: "ChainChannelSettled", channelId: id }).state.channels.size,
    ).toBe(0);
  });

  it("only moves its cursor forward", () => {
    const { state } = run([
      { type: "ChainBlock", block: 9 },
      { type: "ChainBlock", block: 4 },
    ]);
    expect(state.cursor).toBe(9);
  });
});
