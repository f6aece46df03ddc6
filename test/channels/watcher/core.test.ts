import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareProofs } from "../../../channels/proof-order.ts";
import type { ChannelRef } from "../../../channels/settlement/channel-ref.ts";
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
  depositA: 10n,
  ref: `0x${"ab".repeat(48)}` as ChannelRef,
  settleWindow: 60,
};
const closedByA: WatcherInput = {
  type: "ChainChannelClosed",
  channelId: id,
  closer: A,
  proof: { nonce: 0n, transferred: 0n },
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
      { type: "ChainDeposited", channelId: id, participant: "B", total: 4n },
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
      signer: "A",
      signed: { proof: { nonce: 7n, transferred: 3n } },
    });
  });

  it("does nothing when the chain already holds a proof as good as ours", () => {
    const { effects } = run([
      opened,
      closedByA,
      {
        type: "ChainProofUpdated",
        channelId: id,
        signer: "A",
        proof: { nonce: 7n, transferred: 3n },
      },
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
      {
        type: "ChainProofUpdated",
        channelId: id,
        signer: "A",
        proof: { nonce: 7n, transferred: 3n },
      },
      tick(100, proof(7n, 3n)),
      tick(101, proof(7n, 3n)),
    ]);
    expect(effects.filter((e) => e.type === "ChainSendUpdateProof")).toHaveLength(2);
    const settles = effects.filter((e) => e.type === "ChainSendSettle");
    expect(settles).toHaveLength(1);
    expect(settles[0]).toMatchObject({ closing: { nonceA: 7n, sentA: 3n } });
    expect(
      watcherTransition(state, {
        type: "ChainChannelSettled",
        channelId: id,
        payoutA: 7n,
        payoutB: 3n,
      }).state.channels.size,
    ).toBe(0);
  });

  it("only moves its cursor forward", () => {
    const { state } = run([
      { type: "ChainBlock", block: 9 },
      { type: "ChainBlock", block: 4 },
    ]);
    expect(state.cursor).toBe(9);
  });

  it("does not reset a channel it knows when its opening is read again", () => {
    const { state } = run([
      opened,
      { type: "ChainDeposited", channelId: id, participant: "B", total: 4n },
      opened,
    ]);
    expect(state.channels.get(id)?.depositB).toBe(4n);
  });

  it("ignores a close by someone not in the channel, and does not tell us of our own close", () => {
    expect(run([opened, { ...closedByA, closer: X }]).state.channels.get(id)?.status).toBe("open");
    const own = run([opened, { ...closedByA, closer: ME, proof: { nonce: 2n, transferred: 1n } }]);
    expect(own.effects).toEqual([]);
    expect(own.state.channels.get(id)?.closing).toMatchObject({ nonceA: 2n, sentA: 1n, sentB: 0n });
  });
});

/** What the channel core's unilateral branch did, now done (and tested) here, on the one machine. */
describe("dispute machine actions", () => {
  const atOpen = () => run([opened]).state;
  const closing = () => run([opened, closedByA]).state;
  const rows: {
    name: string;
    state: () => ReturnType<typeof atOpen>;
    input: WatcherInput;
    code: string;
  }[] = [
    {
      name: "close a channel it does not know",
      state: () => initialWatcherState(ME, 0),
      input: { type: "ActionClose", channelId: id, partnerProof: null },
      code: "CHANNEL_NOT_OPEN",
    },
    {
      name: "close twice before the chain has the first",
      state: () =>
        watcherTransition(atOpen(), { type: "ActionClose", channelId: id, partnerProof: null })
          .state,
      input: { type: "ActionClose", channelId: id, partnerProof: null },
      code: "CHANNEL_CLOSED",
    },
    {
      name: "close a closing channel",
      state: closing,
      input: { type: "ActionClose", channelId: id, partnerProof: null },
      code: "CHANNEL_CLOSED",
    },
    {
      name: "settle an open channel",
      state: atOpen,
      input: { type: "ActionSettle", channelId: id, now: 1_000 },
      code: "CHANNEL_NOT_CLOSED",
    },
    {
      name: "settle before the window ends",
      state: closing,
      input: { type: "ActionSettle", channelId: id, now: 99 },
      code: "SETTLE_TOO_EARLY",
    },
  ];

  it.each(rows)("$name -> $code, state unchanged", (row) => {
    const state = row.state();
    const out = watcherTransition(state, row.input);
    expect(out.state).toBe(state);
    expect(out.effects).toEqual([
      expect.objectContaining({ type: "NotifyActionRejected", code: row.code }),
    ]);
  });

  it("closes with the partner's proof once; a failed close may be tried again", () => {
    const p = proof(3n, 2n);
    const first = watcherTransition(atOpen(), {
      type: "ActionClose",
      channelId: id,
      partnerProof: p,
    });
    expect(first.effects).toEqual([{ type: "ChainSendClose", channelId: id, proof: p }]);
    const failed = watcherTransition(first.state, {
      type: "ActionEffectFailed",
      channelId: id,
      effect: "close",
    });
    const again = watcherTransition(failed.state, {
      type: "ActionClose",
      channelId: id,
      partnerProof: p,
    });
    expect(again.effects.map((e) => e.type)).toEqual(["ChainSendClose"]);
  });

  it("settles on request once the window has ended, and only once", () => {
    const first = watcherTransition(closing(), { type: "ActionSettle", channelId: id, now: 100 });
    expect(first.effects).toEqual([
      expect.objectContaining({ type: "ChainSendSettle", channelId: id }),
    ]);
    expect(
      watcherTransition(first.state, { type: "ActionSettle", channelId: id, now: 101 }).effects,
    ).toEqual([]);
    // Nor does a tick send a second settle.
    expect(watcherTransition(first.state, tick(102)).effects).toEqual([]);
  });

  it("a stale proof never wins: whatever the chain holds of the partner's side, the newest proof is pushed exactly when it is better", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 20n }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.boolean(),
        (steps, pick, viaUpdate) => {
          // The partner (A) signed proofs 1..n with growing totals; the chain holds one of them.
          let total = 0n;
          const proofs = steps.map((s, i) => {
            total += s;
            return proof(BigInt(i + 1), total);
          });
          const newest = proofs.at(-1)!;
          const stale = proofs[pick % proofs.length]!.proof;
          const position = { nonce: stale.nonce, transferred: stale.transferred };
          const inputs: WatcherInput[] = viaUpdate
            ? [
                opened,
                closedByA,
                { type: "ChainProofUpdated", channelId: id, signer: "A", proof: position },
              ]
            : [opened, { ...closedByA, closer: ME, proof: position }];
          const { state } = run(inputs);
          const out = watcherTransition(state, tick(50, newest));
          const updates = out.effects.filter((e) => e.type === "ChainSendUpdateProof");
          if (compareProofs(newest.proof, stale) > 0) {
            expect(updates).toEqual([
              expect.objectContaining({
                signer: "A",
                signed: newest,
                closing: state.channels.get(id)?.closing,
              }),
            ]);
            const done = watcherTransition(out.state, {
              type: "ChainProofUpdated",
              channelId: id,
              signer: "A",
              proof: newest.proof,
            }).state;
            expect(watcherTransition(done, tick(51, newest)).effects).toEqual([]);
          } else {
            expect(updates).toEqual([]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
