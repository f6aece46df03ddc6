/**
 * The settlement interface's conformance suite: the same scenarios, run against every backend
 * (the in-memory chain and PaymentChannels on the embedded Hardhat chain), so that the cores'
 * tests on the in-memory one say something about the real one.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ProofSigner } from "../../../channels/crypto/signer.ts";
import type { SettlementBackend } from "../../../channels/settlement/backend.ts";
import type { ChannelRef } from "../../../channels/settlement/channel-ref.ts";
import { isSettlementError } from "../../../channels/settlement/errors.ts";
import type { ChainEvent } from "../../../channels/settlement/events.ts";
import type { Address, ChannelDomain, ChannelId } from "../../../channels/types.ts";

/** One backend, set up for alice (opener), bob (partner) and carol (in no channel). */
export interface Harness {
  readonly alice: SettlementBackend;
  readonly bob: SettlementBackend;
  readonly carol: SettlementBackend;
  readonly keys: {
    readonly alice: ProofSigner;
    readonly bob: ProofSigner;
    readonly carol: ProofSigner;
  };
  readonly domain: ChannelDomain;
  /** Moves the chain's clock forward by `seconds`. */
  advance(seconds: number): Promise<void>;
  /** `owner`'s token balance outside the channels. */
  tokens(owner: Address): Promise<bigint>;
}

const WINDOW = 120;
const D = 10n ** 18n;

/** Lowercases addresses, so that feeds of backends that spell them differently compare. */
function lower(e: ChainEvent): ChainEvent {
  if (e.type === "ChainChannelOpened") {
    return { ...e, a: e.a.toLowerCase() as Address, b: e.b.toLowerCase() as Address };
  }
  if (e.type === "ChainChannelClosed") return { ...e, closer: e.closer.toLowerCase() as Address };
  return e;
}

async function feed(s: SettlementBackend, after: number, to?: number): Promise<ChainEvent[]> {
  const out: ChainEvent[] = [];
  for await (const e of s.events(after, to ?? (await s.now()).block)) out.push(lower(e));
  return out;
}

/** The events of one channel (without the block marks). */
const of = (events: ChainEvent[], id: ChannelId) =>
  events.filter((e) => e.type !== "ChainBlock" && e.channelId === id);

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (err: unknown) => {
      if (!isSettlementError(err)) throw err;
      return err.code;
    },
  );
}

/** Runs the suite against the backend `setup` makes. */
export function settlementConformance(name: string, setup: () => Promise<Harness>): void {
  describe(`settlement backend conformance: ${name}`, () => {
    let h: Harness;
    let A: Address;
    let B: Address;
    beforeAll(async () => {
      h = await setup();
      A = (await h.alice.account()).toLowerCase() as Address;
      B = (await h.bob.account()).toLowerCase() as Address;
    });

    const open = async (amount = 10n * D) => {
      const before = (await h.alice.now()).block;
      const tx = await h.alice.send({
        type: "ChainSendOpen",
        partner: B,
        amount,
        settleWindow: WINDOW,
      });
      return { ...tx, before };
    };
    const proofOf = (
      signer: ProofSigner,
      channelId: ChannelId,
      nonce: bigint,
      transferred: bigint,
    ) => {
      const proof = { channelId, nonce, transferred };
      return { proof, signature: signer.signBalanceProof(h.domain, proof) };
    };
    const settlementSigs = (channelId: ChannelId, payoutA: bigint, payoutB: bigint) => {
      const s = { channelId, payoutA, payoutB };
      return {
        settlement: s,
        signatureA: h.keys.alice.signSettlement(h.domain, s),
        signatureB: h.keys.bob.signSettlement(h.domain, s),
      };
    };

    it("names its domain and reads token balances as the chain holds them", async () => {
      expect(h.alice.domain).toEqual(h.domain);
      expect(h.bob.domain).toEqual(h.domain);
      const before = await h.alice.balanceOf(A);
      expect(before).toBe(await h.tokens(A));
      // Anyone's balance, read by anyone: carol is in no channel.
      expect(await h.carol.balanceOf(B)).toBe(await h.tokens(B));
      await open(2n * D);
      expect(await h.bob.balanceOf(A)).toBe(before - 2n * D);
    });

    it("opens and tops up; reads, resolves and feeds the channel", async () => {
      const { channelId, ref, before } = await open();
      await h.bob.send({ type: "ChainSendDeposit", channelId, participant: "B", amount: 4n * D });
      const view = await h.bob.channel(channelId);
      expect(view).toMatchObject({
        status: "open",
        channelId,
        ref,
        depositA: 10n * D,
        depositB: 4n * D,
        settleWindow: WINDOW,
      });
      if (view.status !== "open") return;
      expect([view.a.toLowerCase(), view.b.toLowerCase()]).toEqual([A, B]);
      const resolved = await h.bob.resolve(ref);
      expect(resolved).toEqual({ ok: true, value: view });
      const events = await feed(h.bob, before);
      expect(of(events, channelId)).toEqual([
        {
          type: "ChainChannelOpened",
          channelId,
          ref,
          a: A,
          b: B,
          depositA: 10n * D,
          settleWindow: WINDOW,
        },
        { type: "ChainDeposited", channelId, participant: "B", total: 4n * D },
      ]);
      expect(events.at(-1)).toEqual({ type: "ChainBlock", block: (await h.bob.now()).block });
    });

    it("pays out a cooperative settlement at once, conserving tokens", async () => {
      const [a0, b0] = [await h.tokens(A), await h.tokens(B)];
      const { channelId, ref, before } = await open(10n * D);
      await h.bob.send({ type: "ChainSendDeposit", channelId, participant: "B", amount: 2n * D });
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendCooperativeClose",
            channelId,
            ...settlementSigs(channelId, 7n * D, 4n * D),
          }),
        ),
      ).toBe("PAYOUTS_MISMATCH");
      const forged = settlementSigs(channelId, 7n * D, 5n * D);
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendCooperativeClose",
            channelId,
            ...forged,
            signatureB: h.keys.carol.signSettlement(h.domain, forged.settlement),
          }),
        ),
      ).toBe("INVALID_SIGNATURE");
      await h.bob.send({
        type: "ChainSendCooperativeClose",
        channelId,
        ...settlementSigs(channelId, 7n * D, 5n * D),
      });
      expect(await h.tokens(A)).toBe(a0 - 10n * D + 7n * D);
      expect(await h.tokens(B)).toBe(b0 - 2n * D + 5n * D);
      expect(await h.alice.channel(channelId)).toEqual({ status: "none", channelId });
      expect(await h.alice.resolve(ref)).toMatchObject({ ok: false, code: "CHANNEL_UNKNOWN" });
      expect(of(await feed(h.alice, before), channelId).at(-1)).toEqual({
        type: "ChainChannelSettled",
        channelId,
        payoutA: 7n * D,
        payoutB: 5n * D,
      });
    });

    it("closes with a stale proof, takes a better one in the window, refuses a stale one, settles after it", async () => {
      const [a0, b0] = [await h.tokens(A), await h.tokens(B)];
      const { channelId, before } = await open(10n * D);
      await h.bob.send({ type: "ChainSendDeposit", channelId, participant: "B", amount: 4n * D });
      // Alice paid bob 5 (two proofs), bob paid alice 1; alice closes with bob's proof and
      // claims she never paid.
      const older = proofOf(h.keys.alice, channelId, 1n, 2n * D);
      const newest = proofOf(h.keys.alice, channelId, 2n, 5n * D);
      const fromBob = proofOf(h.keys.bob, channelId, 1n, D);
      const closed = await h.alice.send({ type: "ChainSendClose", channelId, proof: fromBob });
      const view = await h.bob.channel(channelId);
      expect(view).toMatchObject({
        status: "closing",
        channelId,
        finalizesAt: closed.finalizesAt,
        closing: {
          depositA: 10n * D,
          depositB: 4n * D,
          nonceA: 0n,
          sentA: 0n,
          nonceB: 1n,
          sentB: D,
        },
      });
      if (view.status !== "closing") return;
      const closing = view.closing;
      expect(
        await refusal(
          h.bob.send({ type: "ChainSendDeposit", channelId, participant: "B", amount: 1n }),
        ),
      ).toBe("CHANNEL_NOT_OPEN");
      expect(await refusal(h.bob.send({ type: "ChainSendClose", channelId, proof: null }))).toBe(
        "CHANNEL_NOT_OPEN",
      );
      expect(await refusal(h.bob.send({ type: "ChainSendSettle", channelId, closing }))).toBe(
        "WINDOW_RUNNING",
      );
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendUpdateProof",
            channelId,
            closing: { ...closing, sentA: 1n },
            signer: "A",
            signed: newest,
          }),
        ),
      ).toBe("CLOSING_STATE_MISMATCH");
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendUpdateProof",
            channelId,
            closing,
            signer: "A",
            signed: { ...newest, signature: h.keys.carol.signBalanceProof(h.domain, newest.proof) },
          }),
        ),
      ).toBe("INVALID_SIGNATURE");
      // Anyone may submit a proof: it only ever costs its signer.
      await h.carol.send({
        type: "ChainSendUpdateProof",
        channelId,
        closing,
        signer: "A",
        signed: newest,
      });
      const updated = { ...closing, nonceA: 2n, sentA: 5n * D };
      expect(await h.bob.channel(channelId)).toMatchObject({ status: "closing", closing: updated });
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendUpdateProof",
            channelId,
            closing: updated,
            signer: "A",
            signed: older,
          }),
        ),
      ).toBe("STALE_PROOF");
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendUpdateProof",
            channelId,
            closing: updated,
            signer: "A",
            signed: newest,
          }),
        ),
      ).toBe("STALE_PROOF");
      await h.advance(WINDOW + 1);
      expect((await h.bob.now()).time).toBeGreaterThanOrEqual(closed.finalizesAt);
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendUpdateProof",
            channelId,
            closing: updated,
            signer: "B",
            signed: proofOf(h.keys.bob, channelId, 2n, 2n * D),
          }),
        ),
      ).toBe("WINDOW_OVER");
      await h.bob.send({ type: "ChainSendSettle", channelId, closing: updated });
      // A: 10 − 5 + 1 = 6; B: 4 + 5 − 1 = 8.
      expect(await h.tokens(A)).toBe(a0 - 10n * D + 6n * D);
      expect(await h.tokens(B)).toBe(b0 - 4n * D + 8n * D);
      expect(await h.bob.channel(channelId)).toEqual({ status: "none", channelId });
      expect(
        await refusal(h.bob.send({ type: "ChainSendSettle", channelId, closing: updated })),
      ).toBe("CHANNEL_NOT_CLOSING");
      expect(of(await feed(h.bob, before), channelId).slice(1)).toEqual([
        { type: "ChainDeposited", channelId, participant: "B", total: 4n * D },
        {
          type: "ChainChannelClosed",
          channelId,
          closer: A,
          proof: { nonce: 1n, transferred: D },
          finalizesAt: closed.finalizesAt,
        },
        {
          type: "ChainProofUpdated",
          channelId,
          signer: "A",
          proof: { nonce: 2n, transferred: 5n * D },
        },
        { type: "ChainChannelSettled", channelId, payoutA: 6n * D, payoutB: 8n * D },
      ]);
    });

    it("refuses a close by a stranger, a proof not signed by the partner, an empty proof with transfers", async () => {
      const { channelId } = await open(D);
      expect(await refusal(h.carol.send({ type: "ChainSendClose", channelId, proof: null }))).toBe(
        "NOT_PARTICIPANT",
      );
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendClose",
            channelId,
            proof: proofOf(h.keys.carol, channelId, 1n, 1n),
          }),
        ),
      ).toBe("INVALID_SIGNATURE");
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendClose",
            channelId,
            proof: {
              ...proofOf(h.keys.alice, channelId, 1n, 1n),
              proof: { channelId, nonce: 0n, transferred: 1n },
            },
          }),
        ),
      ).toBe("INVALID_ARGUMENT");
      // A proof signed for another channel does not close this one.
      const other = await open(D);
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendClose",
            channelId,
            proof: proofOf(h.keys.alice, other.channelId, 1n, 1n),
          }),
        ),
      ).toBe("INVALID_SIGNATURE");
      const view = await h.bob.channel(channelId);
      expect(
        await refusal(
          h.bob.send({
            type: "ChainSendUpdateProof",
            channelId,
            closing: {
              a: A,
              b: B,
              depositA: D,
              depositB: 0n,
              nonceA: 0n,
              sentA: 0n,
              nonceB: 0n,
              sentB: 0n,
            },
            signer: "A",
            signed: proofOf(h.keys.alice, channelId, 1n, 1n),
          }),
        ),
      ).toBe("CHANNEL_NOT_CLOSING");
      expect(view.status).toBe("open");
    });

    it("refuses an open it cannot make, and a reference it did not make", async () => {
      expect(
        await refusal(
          h.alice.send({ type: "ChainSendOpen", partner: B, amount: D, settleWindow: 0 }),
        ),
      ).toBe("INVALID_ARGUMENT");
      expect(
        await refusal(
          h.alice.send({ type: "ChainSendOpen", partner: A, amount: D, settleWindow: WINDOW }),
        ),
      ).toBe("INVALID_ARGUMENT");
      const rich = await h.tokens(A);
      expect(
        await refusal(
          h.alice.send({
            type: "ChainSendOpen",
            partner: B,
            amount: rich + 1n,
            settleWindow: WINDOW,
          }),
        ),
      ).toBe("INSUFFICIENT_FUNDS");
      expect(await h.alice.resolve("0x1234" as ChannelRef)).toMatchObject({
        ok: false,
        code: "REF_INVALID",
      });
    });

    it("feeds resumably: reading from a saved cursor gives exactly what follows it", async () => {
      const start = (await h.alice.now()).block;
      const { channelId } = await open(D);
      const middle = (await h.alice.now()).block;
      await h.alice.send({ type: "ChainSendDeposit", channelId, participant: "A", amount: D });
      await h.alice.send({ type: "ChainSendDeposit", channelId, participant: "B", amount: 3n });
      const end = (await h.alice.now()).block;
      const whole = await feed(h.alice, start, end);
      const first = await feed(h.alice, start, middle);
      const rest = await feed(h.alice, middle, end);
      const events = (xs: ChainEvent[]) => xs.filter((e) => e.type !== "ChainBlock");
      expect([...events(first), ...events(rest)]).toEqual(events(whole));
      expect(first.at(-1)).toEqual({ type: "ChainBlock", block: middle });
      expect(events(rest)).toEqual([
        { type: "ChainDeposited", channelId, participant: "A", total: 2n * D },
        { type: "ChainDeposited", channelId, participant: "B", total: 3n },
      ]);
      expect(await feed(h.alice, end, end)).toEqual([]);
    });

    it("says the time the next block will carry, which moves with the clock", async () => {
      const t0 = (await h.alice.now()).time;
      await h.advance(500);
      expect((await h.alice.now()).time).toBeGreaterThanOrEqual(t0 + 500);
    });
  });
}
