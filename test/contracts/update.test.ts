import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closingAfterClose, deployFixture, type Fixture, openChannel } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

const D = 10n ** 18n;
let f: Fixture;

beforeAll(async () => {
  f = await deployFixture();
  const addr = await f.channels.getAddress();
  for (const w of [f.alice, f.bob])
    await (await f.token.connect(w).approve(addr, 2n ** 256n - 1n)).wait();
});
afterAll(() => f.connection.close());

/** A channel A→B with both deposits, closed by A with B's proof (2, 1 D). */
async function closedByA(salt: bigint) {
  const { id, p } = await openChannel(f, f.alice, f.bob, salt, 10n * D, 600);
  await (await f.channels.connect(f.bob).deposit(id, true, 10n * D)).wait();
  await (await f.channels.connect(f.alice).close(p, 2n, D, f.signProof(f.bob, id, 2n, D))).wait();
  return { id, closing: closingAfterClose(p, { a: 10n * D, b: 10n * D }, true, 2n, D) };
}

describe("updateProof", () => {
  it("anyone records the closer's own newer proof, and then a newer one for the other side", async () => {
    const { id, closing } = await closedByA(1n);
    // A watchtower submits A's proof (A paid B 4 D): A cannot hide it.
    const receipt = await (
      await f.channels
        .connect(f.stranger)
        .updateProof(id, closing, false, 5n, 4n * D, f.signProof(f.alice, id, 5n, 4n * D))
    ).wait();
    expect(f.channels.interface.parseLog(receipt!.logs[0]!)?.args.toArray()).toEqual([
      id,
      false,
      5n,
      4n * D,
    ]);
    const afterA = { ...closing, nonceA: 5n, sentA: 4n * D };
    await (
      await f.channels
        .connect(f.stranger)
        .updateProof(id, afterA, true, 3n, 3n * D, f.signProof(f.bob, id, 3n, 3n * D, true))
    ).wait();
    const afterB = { ...afterA, nonceB: 3n, sentB: 3n * D };
    const packed = await f.channels.channels(id);
    expect(BigInt(await f.channels.closingHash(afterB))).toBe(packed & ~((1n << 48n) - 1n));
  });

  it("a stale proof never beats a newer one", async () => {
    const { id, closing } = await closedByA(2n);
    const iface = f.channels.interface;
    // B's older proof (nonce 1) and the same one again are both refused.
    await expectRevert(
      f.channels.updateProof(id, closing, true, 1n, D / 2n, f.signProof(f.bob, id, 1n, D / 2n)),
      iface,
      "StaleProof",
    );
    await expectRevert(
      f.channels.updateProof(id, closing, true, 2n, D, f.signProof(f.bob, id, 2n, D)),
      iface,
      "StaleProof",
    );
    // A higher nonce that lowers the amount is a signer trying to take back a payment.
    await expectRevert(
      f.channels.updateProof(id, closing, true, 9n, D - 1n, f.signProof(f.bob, id, 9n, D - 1n)),
      iface,
      "StaleProof",
    );
  });

  it("rejects a wrong signer, a forged closing state, and proofs after the window", async () => {
    const { id, closing } = await closedByA(3n);
    const iface = f.channels.interface;
    await expectRevert(
      f.channels.updateProof(id, closing, true, 3n, 2n * D, f.signProof(f.alice, id, 3n, 2n * D)),
      iface,
      "InvalidSignature",
    );
    await expectRevert(
      f.channels.updateProof(
        id,
        { ...closing, sentB: 0n },
        true,
        3n,
        2n * D,
        f.signProof(f.bob, id, 3n, 2n * D),
      ),
      iface,
      "ClosingStateMismatch",
    );
    await f.advance(600);
    await expectRevert(
      f.channels.updateProof(id, closing, true, 3n, 2n * D, f.signProof(f.bob, id, 3n, 2n * D)),
      iface,
      "SettleWindowOver",
    );
  });

  it("rejects updates for a channel that is open or unknown", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 4n, D);
    const closing = closingAfterClose(p, { a: D, b: 0n }, true, 0n, 0n);
    await expectRevert(
      f.channels.updateProof(id, closing, false, 1n, 1n, f.signProof(f.alice, id, 1n, 1n)),
      f.channels.interface,
      "ChannelNotClosing",
    );
  });
});
