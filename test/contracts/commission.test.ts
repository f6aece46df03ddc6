import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closingAfterClose, deployFixture, type Fixture, openChannel } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

const D = 10n ** 18n;
let f: Fixture;

beforeAll(async () => {
  f = await deployFixture({ feeBps: 250 });
  const addr = await f.channels.getAddress();
  for (const w of [f.alice, f.bob])
    await (await f.token.connect(w).approve(addr, 2n ** 256n - 1n)).wait();
});
afterAll(() => f.connection.close());

describe("commission", () => {
  it("takes feeBps of the net gain at cooperative close, nothing from deposits returned", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 1n, 10n * D);
    await (await f.channels.connect(f.bob).deposit(id, true, 2n * D)).wait();
    const before = await Promise.all(
      [f.alice, f.bob, f.feeSink].map((w) => f.token.balanceOf(w.address)),
    );
    // B gains 4 D net: fee 2.5% of 4 D = 0.1 D.
    const [pa, pb] = [6n * D, 6n * D];
    await (
      await f.channels.cooperativeClose(
        p,
        pa,
        pb,
        f.signSettlement(f.alice, id, pa, pb),
        f.signSettlement(f.bob, id, pa, pb),
      )
    ).wait();
    const after = await Promise.all(
      [f.alice, f.bob, f.feeSink].map((w) => f.token.balanceOf(w.address)),
    );
    expect(after[0]! - before[0]!).toBe(6n * D);
    expect(after[1]! - before[1]!).toBe(6n * D - D / 10n);
    expect(after[2]! - before[2]!).toBe(D / 10n);
  });

  it("takes it at settlement after a unilateral close too, and never at open or top-up", async () => {
    const sink0 = await f.token.balanceOf(f.feeSink.address);
    const { id, p } = await openChannel(f, f.alice, f.bob, 2n, 10n * D, 60);
    await (await f.channels.connect(f.alice).deposit(id, false, D)).wait();
    expect(await f.token.balanceOf(f.feeSink.address)).toBe(sink0);
    await (
      await f.channels.connect(f.bob).close(p, 1n, 8n * D, f.signProof(f.alice, id, 1n, 8n * D))
    ).wait();
    await f.advance(60);
    await (
      await f.channels.settle(id, closingAfterClose(p, { a: 11n * D, b: 0n }, false, 1n, 8n * D))
    ).wait();
    expect((await f.token.balanceOf(f.feeSink.address)) - sink0).toBe((8n * D * 250n) / 10_000n);
  });

  it("is fixed at deployment, capped at MAX_FEE_BPS, and needs a recipient", async () => {
    expect(await f.channels.feeBps()).toBe(250n);
    expect(await f.channels.feeRecipient()).toBe(f.feeSink.address);
    const token = await f.token.getAddress();
    const factory = await f.ethers.getContractFactory("PaymentChannels", f.deployer);
    const bad: [string, string, number, number, number][] = [
      [token, f.feeSink.address, 1001, 60, 600],
      [token, f.ethers.ZeroAddress, 10, 60, 600],
      [f.ethers.ZeroAddress, f.ethers.ZeroAddress, 0, 60, 600],
      [token, f.ethers.ZeroAddress, 0, 0, 600],
      [token, f.ethers.ZeroAddress, 0, 601, 600],
      [token, f.ethers.ZeroAddress, 0, 60, 2 ** 24],
    ];
    for (const args of bad) {
      await expectRevert(factory.deploy(...args), f.channels.interface, "InvalidConfig");
    }
  });
});
