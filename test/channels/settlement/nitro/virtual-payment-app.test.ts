/**
 * Vouchers tollway signs, against the deployed VirtualPaymentApp through the adjudicator's
 * `stateIsSupported` (which recovers our state signatures first): a redemption state carrying the
 * payer's voucher, signed by the payee, is supported after the fully signed postfund state, and a
 * challenge with it is registered; a forged, cross-channel, over-amount or misapplied voucher is
 * refused.
 */
import { type HDNodeWallet, ZeroAddress } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  destinationOf,
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
  SignedVoucher,
  VariablePart,
} from "../../../../channels/settlement/nitro/types.ts";
import {
  encodeVoucherAppData,
  signVoucher,
} from "../../../../channels/settlement/nitro/voucher.ts";
import type { Address, ChannelId } from "../../../../channels/types.ts";
import { mined, type NitroFixture, nitroFixture, signerOf } from "./fixture.ts";
import { expectRefused } from "./refused.ts";

let f: NitroFixture;
let fp: FixedPart;
let id: ChannelId;
let hub: HDNodeWallet;
beforeAll(async () => {
  f = await nitroFixture();
  hub = f.carol;
  // participants[0] pays, the last is paid, the hub sits between.
  fp = {
    participants: [f.alice, hub, f.bob].map((w) => w.address as Address),
    channelNonce: 7n,
    appDefinition: f.nitro.virtualPaymentApp,
    challengeDuration: 60,
  };
  id = nitroChannelId(fp);
});
afterAll(() => f.connection.close());

const DEPOSIT = 100n;

/** The virtual channel's outcome: what the payer keeps, then what the payee is owed. */
function outcome(payer: bigint, payee: bigint, asset: Address = ZeroAddress as Address): Exit {
  return [
    {
      asset,
      assetMetadata: { assetType: 0, metadata: "0x" },
      allocations: [
        {
          destination: destinationOf(f.alice.address as Address),
          amount: payer,
          allocationType: 0,
          metadata: "0x",
        },
        {
          destination: destinationOf(f.bob.address as Address),
          amount: payee,
          allocationType: 0,
          metadata: "0x",
        },
      ],
    },
  ];
}

const signed = (v: VariablePart, ...wallets: HDNodeWallet[]) =>
  signedVariablePart(
    v,
    wallets.map((w) => signState(signerOf(w), fp, v)),
  );

const postfund = (asset?: Address) =>
  signed(
    { outcome: outcome(DEPOSIT, 0n, asset), appData: "0x", turnNum: 1, isFinal: false },
    f.alice,
    hub,
    f.bob,
  );

/** The payee's redemption state for `voucher`, with the outcome moved by `paid`. */
function redemption(
  voucher: SignedVoucher,
  paid: bigint,
  by: HDNodeWallet = f.bob,
  asset?: Address,
) {
  const v: VariablePart = {
    outcome: outcome(DEPOSIT - paid, paid, asset),
    appData: encodeVoucherAppData(voucher),
    turnNum: 2,
    isFinal: false,
  };
  return { v, candidate: signed(v, by) };
}

const supported = (proof: unknown[], candidate: unknown): Promise<unknown[]> =>
  f.adjudicator
    .getFunction("stateIsSupported")
    .staticCall(fp, proof, candidate)
    .then((r: { toArray(): unknown[] }) => r.toArray());

describe("VirtualPaymentApp takes the vouchers tollway signs", () => {
  it("supports the payee's redemption of the payer's voucher, and a challenge with it is registered", async () => {
    const voucher = signVoucher(signerOf(f.alice), { channelId: id, amount: 30n });
    const { v, candidate } = redemption(voucher, 30n);
    expect(await supported([postfund()], candidate)).toEqual([true, ""]);

    const sig = toNitroSignature(signChallenge(signerOf(f.bob), fp, v));
    const receipt = await mined(f.as(f.bob).challenge(fp, [postfund()], candidate, sig));
    const finalizesAt = (await f.provider.getBlock(receipt.blockNumber))!.timestamp + 60;
    expect(await f.adjudicator.statusOf(id)).toBe(
      packNitroStatus({
        turnNumRecord: 2,
        finalizesAt,
        fingerprint: statusFingerprint(hashNitroState(fp, v), hashExit(v.outcome)),
      }),
    );
  });

  it("refuses a voucher not signed by the payer, or signed for another channel", async () => {
    const other = nitroChannelId({ ...fp, channelNonce: fp.channelNonce + 1n });
    const forgeries = [
      signVoucher(signerOf(f.bob), { channelId: id, amount: 30n }),
      signVoucher(signerOf(hub), { channelId: id, amount: 30n }),
      signVoucher(signerOf(f.alice), { channelId: other, amount: 30n }),
      // The payer signed 30; the payee claims 40 with that signature.
      {
        ...signVoucher(signerOf(f.alice), { channelId: id, amount: 30n }),
        voucher: { channelId: id, amount: 40n },
      },
    ];
    for (const voucher of forgeries) {
      const paid = voucher.voucher.amount;
      await expectRefused(supported([postfund()], redemption(voucher, paid).candidate), {
        kind: "error",
      });
    }
  });

  it("refuses a voucher over what the payer put in, an outcome that does not apply it, and a redemption not signed by the payee", async () => {
    const over = signVoucher(signerOf(f.alice), { channelId: id, amount: DEPOSIT + 1n });
    // The app computes the payer's new allocation as old − amount: below zero is an arithmetic panic.
    await expectRefused(supported([postfund()], redemption(over, 0n).candidate), {
      kind: "panic",
      code: 0x11,
    });
    const voucher = signVoucher(signerOf(f.alice), { channelId: id, amount: 30n });
    await expectRefused(supported([postfund()], redemption(voucher, 20n).candidate), {
      kind: "error",
    });
    await expectRefused(supported([postfund()], redemption(voucher, 30n, f.alice).candidate), {
      kind: "error",
    });
    await expectRefused(supported([postfund()], redemption(voucher, 30n, hub).candidate), {
      kind: "error",
    });
    // Without the fully signed postfund state there is nothing to redeem against.
    const lonePostfund = signed(
      { outcome: outcome(DEPOSIT, 0n), appData: "0x", turnNum: 1, isFinal: false },
      f.alice,
      f.bob,
    );
    await expectRefused(supported([lonePostfund], redemption(voucher, 30n).candidate), {
      kind: "error",
    });
  });

  it("redeems vouchers only over the chain's native asset: an ERC-20 outcome is refused", async () => {
    // VirtualPaymentApp v2.0.1-alpha.6 requires asset == address(0) in requireCorrectAdjustments.
    const voucher = signVoucher(signerOf(f.alice), { channelId: id, amount: 30n });
    await expectRefused(
      supported(
        [postfund(f.tokenAddress)],
        redemption(voucher, 30n, f.bob, f.tokenAddress).candidate,
      ),
      { kind: "error" },
    );
  });
});
