/**
 * Gas per PaymentChannels operation, measured in the steady state a busy deployment sees: the
 * contract and both participants already hold tokens, the requester has approved the contract
 * once (or signs a permit), and nothing is warm but what the transaction itself touches.
 */
import { Signature, type TransactionReceipt } from "ethers";
import { PERMIT_TYPES } from "../../channels/chain/client.ts";
import { deployFixture, depositData, openChannel } from "../../test/helpers/chain.ts";

/** The operations and their budgets (gas), from the foundation issue. */
export const GAS_TARGETS = {
  openWithDeposit: 70_000,
  openWithPermit: 100_000,
  topUp: 45_000,
  cooperativeClose: 65_000,
  closeAndSettle: 90_000,
  updateProof: 45_000,
} as const;

export type GasReport = Record<keyof typeof GAS_TARGETS, number> & {
  topUpWithAllowance: number;
  close: number;
  settle: number;
  openWithPermitFirstUse: number;
  cooperativeCloseWithFee: number;
};

const DEPOSIT = 100n * 10n ** 18n;
const WINDOW = 3600;
const PERMIT_DEADLINE = 2n ** 40n;

/** Runs every operation once on a fresh in-process chain and returns the gas each used. */
export async function measureGas(): Promise<GasReport> {
  const f = await deployFixture();
  const { token, channels, alice, bob, carol } = f;
  const channelsAddr = await channels.getAddress();
  const max = 2n ** 256n - 1n;
  let salt = 1n;

  const gasOf = async (tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>) =>
    Number((await (await tx).wait())!.gasUsed);

  // Warm-up that any live deployment has behind it: the contract holds tokens, approvals exist.
  await (await token.connect(alice).approve(channelsAddr, max)).wait();
  await (await token.connect(bob).approve(channelsAddr, max)).wait();
  await openChannel(f, bob, carol, salt++, DEPOSIT, WINDOW);

  const opened = await openChannel(f, alice, bob, salt++, DEPOSIT, WINDOW);
  const openWithDeposit = Number(opened.gasUsed);
  const id = opened.id;
  const topUpWithAllowance = await gasOf(channels.connect(alice).deposit(id, false, DEPOSIT));
  const topUp = await gasOf(
    token.connect(alice).getFunction("transferAndCall(address,uint256,bytes)")(
      channelsAddr,
      DEPOSIT,
      depositData(id, false),
    ),
  );

  const permitOpen = async () => {
    const nonce = await token.nonces(carol.address);
    // A fixed deadline keeps the signature, and so the calldata gas, the same on every run.
    const deadline = PERMIT_DEADLINE;
    const sig = Signature.from(
      await carol.signTypedData(
        {
          name: await token.name(),
          version: "1",
          chainId: f.chainId,
          verifyingContract: await token.getAddress(),
        },
        PERMIT_TYPES,
        { owner: carol.address, spender: channelsAddr, value: DEPOSIT, nonce, deadline },
      ),
    );
    return gasOf(
      channels
        .connect(carol)
        .openWithPermit(alice.address, salt++, DEPOSIT, WINDOW, deadline, sig.v, sig.r, sig.s),
    );
  };
  const openWithPermitFirstUse = await permitOpen();
  const openWithPermit = await permitOpen();

  // Cooperative close of the alice-bob channel: alice paid bob 30 tokens.
  const paid = 30n * 10n ** 18n;
  const depositA = 3n * DEPOSIT;
  const payoutA = depositA - paid;
  const payoutB = paid;
  const participants = opened.p;
  const cooperativeClose = await gasOf(
    channels
      .connect(bob)
      .cooperativeClose(
        participants,
        payoutA,
        payoutB,
        f.signSettlement(alice, id, payoutA, payoutB, true),
        f.signSettlement(bob, id, payoutA, payoutB, true),
      ),
  );

  // Unilateral close by bob with alice's proof, an update by a watchtower, settle after the window.
  const { id: id2, p: p2 } = await openChannel(f, alice, bob, salt++, DEPOSIT, WINDOW);
  const close = await gasOf(
    channels.connect(bob).close(p2, 7n, paid, f.signProof(alice, id2, 7n, paid, true)),
  );
  const closing = {
    a: alice.address,
    b: bob.address,
    depositA: DEPOSIT,
    depositB: 0n,
    nonceA: 7n,
    sentA: paid,
    nonceB: 0n,
    sentB: 0n,
  };
  await f.advance(WINDOW);
  const settle = await gasOf(channels.connect(bob).settle(id2, closing));

  const { id: id3, p: p3 } = await openChannel(f, alice, bob, salt++, DEPOSIT, WINDOW);
  await (
    await channels.connect(bob).close(p3, 7n, paid, f.signProof(alice, id3, 7n, paid, true))
  ).wait();
  const updateProof = await gasOf(
    channels
      .connect(carol)
      .updateProof(
        id3,
        closing,
        false,
        9n,
        paid + 1n,
        f.signProof(alice, id3, 9n, paid + 1n, true),
      ),
  );

  const cooperativeCloseWithFee = await measureCooperativeCloseWithFee();
  await f.connection.close();
  return {
    openWithDeposit,
    openWithPermit,
    openWithPermitFirstUse,
    topUp,
    topUpWithAllowance,
    cooperativeClose,
    close,
    settle,
    closeAndSettle: close + settle,
    updateProof,
    cooperativeCloseWithFee,
  };
}

async function measureCooperativeCloseWithFee(): Promise<number> {
  const f = await deployFixture({ feeBps: 50 });
  const { token, channels, alice, bob, feeSink } = f;
  const addr = await channels.getAddress();
  await (await token.connect(alice).approve(addr, 2n ** 256n - 1n)).wait();
  // The fee recipient already holds tokens in steady state.
  await (await token.connect(alice).transfer(feeSink.address, 1n)).wait();
  await openChannel(f, alice, bob, 1n, DEPOSIT, WINDOW);
  const { id, p } = await openChannel(f, alice, bob, 2n, DEPOSIT, WINDOW);
  const payoutB = 10n ** 18n;
  const payoutA = DEPOSIT - payoutB;
  const receipt = await (
    await channels
      .connect(bob)
      .cooperativeClose(
        p,
        payoutA,
        payoutB,
        f.signSettlement(alice, id, payoutA, payoutB, true),
        f.signSettlement(bob, id, payoutA, payoutB, true),
      )
  ).wait();
  await f.connection.close();
  return Number(receipt!.gasUsed);
}
