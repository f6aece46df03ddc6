import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture, openChannel } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

const D = 10n ** 18n;
let f: Fixture;
let channelsAddr: string;

beforeAll(async () => {
  f = await deployFixture();
  channelsAddr = await f.channels.getAddress();
  for (const w of [f.alice, f.bob]) {
    await (await f.token.connect(w).approve(channelsAddr, 2n ** 256n - 1n)).wait();
  }
});
afterAll(() => f.connection.close());

describe("cooperativeClose", () => {
  it("pays out at once what both signed and clears the slot", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 1n, 10n * D);
    await (await f.channels.connect(f.bob).deposit(id, true, 2n * D)).wait();
    const [a0, b0] = [
      await f.token.balanceOf(f.alice.address),
      await f.token.balanceOf(f.bob.address),
    ];
    const sigA = f.signSettlement(f.alice, id, 7n * D, 5n * D);
    const sigB = f.signSettlement(f.bob, id, 7n * D, 5n * D, true);
    const receipt = await (
      await f.channels.connect(f.stranger).cooperativeClose(p, 7n * D, 5n * D, sigA, sigB)
    ).wait();
    expect(await f.token.balanceOf(f.alice.address)).toBe(a0 + 7n * D);
    expect(await f.token.balanceOf(f.bob.address)).toBe(b0 + 5n * D);
    expect(await f.channels.channels(id)).toBe(0n);
    const log = f.channels.interface.parseLog(receipt!.logs.at(0)!);
    expect(log?.name).toBe("ChannelSettled");
    expect(log?.args.toArray()).toEqual([id, 7n * D, 5n * D, 0n]);
  });

  it("rejects payouts that do not add up to the deposits", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 2n, 10n * D);
    const [a, b] = [6n * D, 5n * D];
    const args = await expectRevert(
      f.channels.cooperativeClose(
        p,
        a,
        b,
        f.signSettlement(f.alice, id, a, b),
        f.signSettlement(f.bob, id, a, b),
      ),
      f.channels.interface,
      "PayoutsMismatch",
    );
    expect(args).toEqual([11n * D, 10n * D]);
  });

  it("rejects a missing, swapped, foreign or malformed signature", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 3n, 10n * D);
    const [a, b] = [4n * D, 6n * D];
    const sigA = f.signSettlement(f.alice, id, a, b);
    const sigB = f.signSettlement(f.bob, id, a, b);
    const iface = f.channels.interface;
    await expectRevert(f.channels.cooperativeClose(p, a, b, sigB, sigA), iface, "InvalidSignature");
    await expectRevert(f.channels.cooperativeClose(p, a, b, sigA, sigA), iface, "InvalidSignature");
    await expectRevert(
      f.channels.cooperativeClose(p, a, b, sigA, f.signSettlement(f.carol, id, a, b)),
      iface,
      "InvalidSignature",
    );
    await expectRevert(
      f.channels.cooperativeClose(p, a, b, sigA, sigB.slice(0, 63)),
      iface,
      "InvalidSignature",
    );
    // Signed for other payouts.
    await expectRevert(f.channels.cooperativeClose(p, b, a, sigA, sigB), iface, "InvalidSignature");
    expect((await f.channels.channelInfo(id))[0]).toBe(1n);
  });

  it("cannot settle twice, nor close a channel that does not exist", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 4n, 2n * D);
    const sigs = [f.signSettlement(f.alice, id, D, D), f.signSettlement(f.bob, id, D, D)] as const;
    await (await f.channels.cooperativeClose(p, D, D, ...sigs)).wait();
    await expectRevert(
      f.channels.cooperativeClose(p, D, D, ...sigs),
      f.channels.interface,
      "ChannelNotOpen",
    );
    await expectRevert(
      f.channels.cooperativeClose({ ...p, salt: 99n }, D, D, ...sigs),
      f.channels.interface,
      "ChannelNotOpen",
    );
  });

  it("refuses to close in the opening block, so an id can never be opened twice", async () => {
    // Automine off: open and close land in the same block.
    await f.provider.send("evm_setAutomine", [false]);
    try {
      const salt = 5n;
      const openBlock = BigInt(await f.provider.getBlockNumber()) + 1n;
      const p = { a: f.alice.address, b: f.bob.address, salt, openBlock };
      const id = await f.channels.channelIdOf(p.a, p.b, salt, openBlock);
      const openTx = await f.channels.connect(f.alice).open(f.bob.address, salt, 0n, 3600);
      const closeTx = await f.channels
        .connect(f.alice)
        .cooperativeClose(
          p,
          0n,
          0n,
          f.signSettlement(f.alice, id as never, 0n, 0n),
          f.signSettlement(f.bob, id as never, 0n, 0n),
          { gasLimit: 200_000 },
        );
      await f.provider.send("evm_mine", []);
      expect((await openTx.wait())!.status).toBe(1);
      const closeReceipt = await f.provider.getTransactionReceipt(closeTx.hash);
      expect(closeReceipt!.blockNumber).toBe(Number(openBlock));
      expect(closeReceipt!.status).toBe(0);
      const trace = await f.provider.send("debug_traceTransaction", [
        closeTx.hash,
        { disableStorage: true, disableMemory: true, disableStack: true },
      ]);
      const returned = trace.returnValue.startsWith("0x")
        ? trace.returnValue
        : `0x${trace.returnValue}`;
      expect(f.channels.interface.parseError(returned)?.name).toBe("CloseInOpeningBlock");
      expect((await f.channels.channelInfo(id))[0]).toBe(1n);
    } finally {
      await f.provider.send("evm_setAutomine", [true]);
    }
  });
});
