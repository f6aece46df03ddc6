import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closingAfterClose, deployFixture, type Fixture, openChannel } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

const D = 10n ** 18n;
let f: Fixture;
let addr: string;

beforeAll(async () => {
  f = await deployFixture();
  addr = await f.channels.getAddress();
  for (const w of [f.alice, f.bob])
    await (await f.token.connect(w).approve(addr, 2n ** 256n - 1n)).wait();
});
afterAll(() => f.connection.close());

describe("settle", () => {
  it("pays what the latest proofs entitle each side to once the window ends", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 1n, 10n * D, 600);
    await (await f.channels.connect(f.bob).deposit(id, true, 5n * D)).wait();
    await (
      await f.channels.connect(f.bob).close(p, 4n, 6n * D, f.signProof(f.alice, id, 4n, 6n * D))
    ).wait();
    let closing = closingAfterClose(p, { a: 10n * D, b: 5n * D }, false, 4n, 6n * D);
    await (
      await f.channels.updateProof(id, closing, true, 2n, 1n * D, f.signProof(f.bob, id, 2n, D))
    ).wait();
    closing = { ...closing, nonceB: 2n, sentB: D };
    const iface = f.channels.interface;
    await expectRevert(f.channels.settle(id, closing), iface, "SettleWindowRunning");
    await f.advance(600);
    const [a0, b0] = [
      await f.token.balanceOf(f.alice.address),
      await f.token.balanceOf(f.bob.address),
    ];
    await (await f.channels.connect(f.stranger).settle(id, closing)).wait();
    // A: 10 - 6 + 1 = 5; B: 5 + 6 - 1 = 10.
    expect(await f.token.balanceOf(f.alice.address)).toBe(a0 + 5n * D);
    expect(await f.token.balanceOf(f.bob.address)).toBe(b0 + 10n * D);
    expect(await f.channels.channels(id)).toBe(0n);
    await expectRevert(f.channels.settle(id, closing), iface, "ChannelNotClosing");
  });

  it("clamps payouts when a signer signed more than it had: nothing past the deposits leaves", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 2n, 3n * D, 60);
    const held = await f.token.balanceOf(addr);
    const huge = 2n ** 255n;
    await (
      await f.channels.connect(f.bob).close(p, 1n, huge, f.signProof(f.alice, id, 1n, huge))
    ).wait();
    await f.advance(60);
    const b0 = await f.token.balanceOf(f.bob.address);
    await (
      await f.channels.settle(id, closingAfterClose(p, { a: 3n * D, b: 0n }, false, 1n, huge))
    ).wait();
    expect(await f.token.balanceOf(f.bob.address)).toBe(b0 + 3n * D);
    expect(await f.token.balanceOf(addr)).toBe(held - 3n * D);
  });

  it("rejects a closing state that differs from the committed one", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 3n, 3n * D, 60);
    await (await f.channels.connect(f.alice).close(p, 0n, 0n, "0x")).wait();
    await f.advance(60);
    const closing = closingAfterClose(p, { a: 3n * D, b: 0n }, true, 0n, 0n);
    await expectRevert(
      f.channels.settle(id, { ...closing, depositA: 4n * D }),
      f.channels.interface,
      "ClosingStateMismatch",
    );
    await expectRevert(
      f.channels.settle(id, { ...closing, b: f.carol.address }),
      f.channels.interface,
      "ClosingStateMismatch",
    );
  });

  it("computePayouts conserves the deposits at the edges", async () => {
    const cases: [bigint, bigint, bigint, bigint, bigint, bigint][] = [
      [10n, 5n, 0n, 0n, 10n, 5n],
      [10n, 5n, 4n, 1n, 7n, 8n],
      [10n, 5n, 10n, 0n, 0n, 15n],
      [10n, 5n, 11n, 0n, 0n, 15n],
      [10n, 5n, 0n, 5n, 15n, 0n],
      [10n, 5n, 0n, 2n ** 256n - 1n, 15n, 0n],
      [0n, 0n, 3n, 4n, 0n, 0n],
    ];
    for (const [dA, dB, sA, sB, pA, pB] of cases) {
      expect(await f.channels.computePayouts(dA, dB, sA, sB)).toEqual([pA, pB]);
    }
  });
});
