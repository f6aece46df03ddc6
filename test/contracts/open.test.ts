import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture, openChannel } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

const D = 10n ** 18n;
let f: Fixture;

beforeAll(async () => {
  f = await deployFixture({ minSettleWindow: 60, maxSettleWindow: 86_400 });
  await (await f.token.connect(f.alice).approve(await f.channels.getAddress(), 100n * D)).wait();
});
afterAll(() => f.connection.close());

describe("open", () => {
  it("opens a channel, takes the deposit and records it in one slot", async () => {
    const before = await f.token.balanceOf(f.alice.address);
    const { id, p } = await openChannel(f, f.alice, f.bob, 1n, 5n * D, 600);
    expect(await f.token.balanceOf(f.alice.address)).toBe(before - 5n * D);
    expect(await f.token.balanceOf(await f.channels.getAddress())).toBe(5n * D);
    const [status, window, depositA, depositB] = await f.channels.channelInfo(id);
    expect([status, window, depositA, depositB]).toEqual([1n, 600n, 5n * D, 0n]);
    expect(id).toBe(await f.channels.channelIdOf(p.a, p.b, p.salt, p.openBlock));
  });

  it("emits ChannelOpened with everything needed to rebuild the channel", async () => {
    const tx = await f.channels.connect(f.alice).open(f.bob.address, 2n, D, 60);
    const receipt = await tx.wait();
    const log = f.channels.interface.parseLog(
      receipt!.logs.find((l) => l.address === f.channels.target)!,
    );
    expect(log?.name).toBe("ChannelOpened");
    expect(log?.args.toArray().slice(1)).toEqual([
      f.alice.address,
      f.bob.address,
      2n,
      BigInt(receipt!.blockNumber),
      D,
      60n,
    ]);
  });

  it("opens with a zero deposit", async () => {
    const { id } = await openChannel(f, f.alice, f.bob, 3n, 0n);
    expect((await f.channels.channelInfo(id))[0]).toBe(1n);
  });

  it("gives the same salt a new id in a later block", async () => {
    const first = await openChannel(f, f.alice, f.bob, 4n, 0n);
    const second = await openChannel(f, f.alice, f.bob, 4n, 0n);
    expect(second.id).not.toBe(first.id);
  });

  it("rejects a zero or self partner", async () => {
    const iface = f.channels.interface;
    await expectRevert(
      f.channels.connect(f.alice).open(f.ethers.ZeroAddress, 9n, D, 60),
      iface,
      "InvalidPartner",
    );
    await expectRevert(
      f.channels.connect(f.alice).open(f.alice.address, 9n, D, 60),
      iface,
      "InvalidPartner",
    );
  });

  it("rejects a settle window outside the deployment's bounds", async () => {
    const args = await expectRevert(
      f.channels.connect(f.alice).open(f.bob.address, 9n, D, 59),
      f.channels.interface,
      "SettleWindowOutOfBounds",
    );
    expect(args).toEqual([59n, 60n, 86_400n]);
    await expectRevert(
      f.channels.connect(f.alice).open(f.bob.address, 9n, D, 86_401),
      f.channels.interface,
      "SettleWindowOutOfBounds",
    );
  });

  it("rejects a deposit past 2**112 - 1", async () => {
    await expectRevert(
      f.channels.connect(f.alice).open(f.bob.address, 9n, 2n ** 112n, 60),
      f.channels.interface,
      "DepositTooLarge",
    );
  });

  it("reverts and changes nothing without an allowance", async () => {
    const before = await f.token.balanceOf(f.carol.address);
    await expectRevert(
      f.channels.connect(f.carol).open(f.bob.address, 9n, D, 60),
      f.token.interface,
      "ERC20InsufficientAllowance",
    );
    expect(await f.token.balanceOf(f.carol.address)).toBe(before);
  });
});
