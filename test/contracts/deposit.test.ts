import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFixture, depositData, type Fixture, openChannel } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

const D = 10n ** 18n;
let f: Fixture;
let channelsAddr: string;

beforeAll(async () => {
  f = await deployFixture();
  channelsAddr = await f.channels.getAddress();
  for (const w of [f.alice, f.bob, f.carol]) {
    await (await f.token.connect(w).approve(channelsAddr, 2n ** 256n - 1n)).wait();
  }
});
afterAll(() => f.connection.close());

const transferAndCall = (from: Fixture["alice"], amount: bigint, data: string) =>
  f.token.connect(from).getFunction("transferAndCall(address,uint256,bytes)")(
    channelsAddr,
    amount,
    data,
  );

describe("deposit (top-up)", () => {
  it("lets either participant top up its side while open", async () => {
    const { id } = await openChannel(f, f.alice, f.bob, 1n, 2n * D);
    await (await f.channels.connect(f.alice).deposit(id, false, 3n * D)).wait();
    await (await f.channels.connect(f.bob).deposit(id, true, 7n * D)).wait();
    const [, , depositA, depositB] = await f.channels.channelInfo(id);
    expect([depositA, depositB]).toEqual([5n * D, 7n * D]);
    expect(await f.token.balanceOf(channelsAddr)).toBe(12n * D);
  });

  it("tops up through ERC-1363 transferAndCall without an allowance", async () => {
    const { id } = await openChannel(f, f.alice, f.bob, 2n, D);
    const tx = await transferAndCall(f.bob, 4n * D, depositData(id, true));
    const receipt = await tx.wait();
    const log = receipt!.logs
      .filter((l) => l.address === f.channels.target)
      .map((l) => f.channels.interface.parseLog(l))[0];
    expect(log?.name).toBe("Deposited");
    expect(log?.args.toArray()).toEqual([id, true, 4n * D]);
    expect((await f.channels.channelInfo(id))[3]).toBe(4n * D);
  });

  it("lets a sponsor fund a side: a deposit only ever adds to it", async () => {
    const { id } = await openChannel(f, f.alice, f.bob, 3n, D);
    await (await f.channels.connect(f.carol).deposit(id, false, D)).wait();
    expect((await f.channels.channelInfo(id))[2]).toBe(2n * D);
  });

  it("rejects top-ups of unknown, closing or settled channels and past 2**112 - 1", async () => {
    const iface = f.channels.interface;
    const unknown = `0x${"ab".repeat(32)}`;
    await expectRevert(
      f.channels.connect(f.alice).deposit(unknown, false, D),
      iface,
      "ChannelNotOpen",
    );
    await expectRevert(
      transferAndCall(f.alice, D, depositData(unknown as never, false)),
      iface,
      "ChannelNotOpen",
    );
    const { id, p } = await openChannel(f, f.alice, f.bob, 4n, D);
    await expectRevert(
      f.channels.connect(f.alice).deposit(id, true, 2n ** 112n),
      iface,
      "DepositTooLarge",
    );
    await (await f.channels.connect(f.bob).close(p, 0n, 0n, "0x")).wait();
    await expectRevert(f.channels.connect(f.alice).deposit(id, false, D), iface, "ChannelNotOpen");
    expect((await f.channels.channelInfo(id))[0]).toBe(2n);
  });

  it("accepts onTransferReceived only from the token, with 33 bytes of data", async () => {
    const { id } = await openChannel(f, f.alice, f.bob, 5n, D);
    const iface = f.channels.interface;
    await expectRevert(
      f.channels
        .connect(f.alice)
        .onTransferReceived(f.alice.address, f.alice.address, D, depositData(id, false)),
      iface,
      "NotToken",
    );
    await expectRevert(transferAndCall(f.alice, D, id), iface, "InvalidDepositData");
    expect((await f.channels.channelInfo(id))[2]).toBe(D);
  });
});
