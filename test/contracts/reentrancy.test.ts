import type { Contract } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  balanceProofDigest,
  eip712Domain,
  settlementDigest,
} from "../../channels/crypto/eip712.ts";
import type { Address, ChannelId } from "../../channels/types.ts";
import { closingAfterClose, deployFixture, encodeSig, type Fixture } from "../helpers/chain.ts";

const D = 10n ** 18n;
let f: Fixture;
let hostile: Contract;
let channels: Contract;
let domain: ReturnType<typeof eip712Domain>;

beforeAll(async () => {
  f = await deployFixture();
  hostile = (await f.ethers.deployContract(
    "HostileToken",
    [[f.alice.address, f.bob.address], 1000n * D],
    f.deployer,
  )) as unknown as Contract;
  channels = (await f.ethers.deployContract(
    "PaymentChannels",
    [await hostile.getAddress(), f.ethers.ZeroAddress, 0, 60, 86_400],
    f.deployer,
  )) as unknown as Contract;
  domain = eip712Domain({
    chainId: f.chainId,
    verifyingContract: (await channels.getAddress()) as Address,
  });
  for (const w of [f.alice, f.bob]) {
    await (
      await (hostile.connect(w) as Contract).getFunction("approve")(
        await channels.getAddress(),
        2n ** 256n - 1n,
      )
    ).wait();
  }
});
afterAll(() => f.connection.close());

async function open(salt: bigint, amount: bigint) {
  const receipt = await (
    await (channels.connect(f.alice) as Contract).getFunction("open")(
      f.bob.address,
      salt,
      amount,
      60,
    )
  ).wait();
  const p = { a: f.alice.address, b: f.bob.address, salt, openBlock: BigInt(receipt.blockNumber) };
  const id = (await channels.getFunction("channelIdOf")(
    p.a,
    p.b,
    p.salt,
    p.openBlock,
  )) as ChannelId;
  return { id, p };
}

describe("a hostile token cannot re-enter a payout", () => {
  it("re-entering cooperativeClose from the first payout fails; each side is paid once", async () => {
    const { id, p } = await open(1n, 10n * D);
    const sign = (w: Fixture["alice"]) =>
      encodeSig(
        w.signingKey.sign(
          settlementDigest(domain, { channelId: id, payoutA: 6n * D, payoutB: 4n * D }),
        ),
        false,
      );
    const args = [p, 6n * D, 4n * D, sign(f.alice), sign(f.bob)] as const;
    await (
      await hostile.getFunction("arm")(
        await channels.getAddress(),
        channels.interface.encodeFunctionData("cooperativeClose", args),
      )
    ).wait();
    const held = await hostile.getFunction("balanceOf")(await channels.getAddress());
    await (await channels.getFunction("cooperativeClose")(...args)).wait();
    expect(await hostile.getFunction("attempted")()).toBe(true);
    expect(await hostile.getFunction("reentered")()).toBe(false);
    expect(channels.interface.parseError(await hostile.getFunction("reentryError")())?.name).toBe(
      "ChannelNotOpen",
    );
    expect(await hostile.getFunction("balanceOf")(await channels.getAddress())).toBe(
      held - 10n * D,
    );
  });

  it("re-entering settle from the first payout fails", async () => {
    const { id, p } = await open(2n, 10n * D);
    const sig = encodeSig(
      f.alice.signingKey.sign(
        balanceProofDigest(domain, { channelId: id, nonce: 1n, transferred: 3n * D }),
      ),
      false,
    );
    await (
      await (channels.connect(f.bob) as Contract).getFunction("close")(p, 1n, 3n * D, sig)
    ).wait();
    const closing = closingAfterClose(p, { a: 10n * D, b: 0n }, false, 1n, 3n * D);
    await f.advance(60);
    await (
      await hostile.getFunction("arm")(
        await channels.getAddress(),
        channels.interface.encodeFunctionData("settle", [id, closing]),
      )
    ).wait();
    const held = await hostile.getFunction("balanceOf")(await channels.getAddress());
    await (await channels.getFunction("settle")(id, closing)).wait();
    expect(await hostile.getFunction("reentered")()).toBe(false);
    expect(channels.interface.parseError(await hostile.getFunction("reentryError")())?.name).toBe(
      "ChannelNotClosing",
    );
    expect(await hostile.getFunction("balanceOf")(await channels.getAddress())).toBe(
      held - 10n * D,
    );
  });

  it("a deposit re-entered from inside transferFrom is recorded exactly once per transfer", async () => {
    const { id } = await open(3n, D);
    const inner = channels.interface.encodeFunctionData("deposit", [id, false, D]);
    await (await hostile.getFunction("arm")(await channels.getAddress(), inner)).wait();
    await (
      await (channels.connect(f.alice) as Contract).getFunction("deposit")(id, false, D)
    ).wait();
    // The re-entrant call comes from the token, which holds nothing to pay with: it fails and
    // the outer deposit alone is counted.
    expect(await hostile.getFunction("reentered")()).toBe(false);
    const [, , depositA] = await channels.getFunction("channelInfo")(id);
    expect(depositA).toBe(2n * D);
    expect(
      await hostile.getFunction("balanceOf")(await channels.getAddress()),
    ).toBeGreaterThanOrEqual(depositA);
  });
});
