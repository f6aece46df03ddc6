import { Signature } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERMIT_TYPES } from "../../channels/chain/client.ts";
import { deployFixture, type Fixture, openChannel, TOKEN_SUPPLY_EACH } from "../helpers/chain.ts";
import { expectRevert } from "../helpers/revert.ts";

let f: Fixture;
beforeAll(async () => {
  f = await deployFixture();
});
afterAll(() => f.connection.close());

describe("Token", () => {
  it("mints the fixed supply to the initial holders once, with no mint or burn", async () => {
    expect(await f.token.totalSupply()).toBe(4n * TOKEN_SUPPLY_EACH);
    expect(await f.token.balanceOf(f.alice.address)).toBe(TOKEN_SUPPLY_EACH);
    const names: string[] = [];
    f.token.interface.forEachFunction((fn) => names.push(fn.name));
    expect(names).toContain("transferAndCall");
    expect(names.filter((n) => /mint|burn/i.test(n))).toEqual([]);
  });

  it("refuses mismatched holders and amounts", async () => {
    const factory = await f.ethers.getContractFactory("Token", f.deployer);
    const args = await expectRevert(
      factory.deploy("t", "T", [f.alice.address], [1n, 2n]),
      f.token.interface,
      "HoldersMismatch",
    );
    expect(args).toEqual([1n, 2n]);
    await expectRevert(factory.deploy("t", "T", [], []), f.token.interface, "HoldersMismatch");
  });

  it("opens a channel with a permit: approve and open in one transaction", async () => {
    const channels = await f.channels.getAddress();
    const value = 10n ** 18n;
    const deadline = 2n ** 40n;
    const sig = Signature.from(
      await f.carol.signTypedData(
        {
          name: await f.token.name(),
          version: "1",
          chainId: f.chainId,
          verifyingContract: await f.token.getAddress(),
        },
        PERMIT_TYPES,
        { owner: f.carol.address, spender: channels, value, nonce: 0n, deadline },
      ),
    );
    const receipt = await (
      await f.channels
        .connect(f.carol)
        .openWithPermit(f.bob.address, 1n, value, 3600, deadline, sig.v, sig.r, sig.s)
    ).wait();
    expect(receipt!.status).toBe(1);
    expect(await f.token.balanceOf(channels)).toBe(value);
    expect(await f.token.allowance(f.carol.address, channels)).toBe(0n);
    // Replaying the same permit fails inside, is ignored, and the missing allowance decides.
    await expectRevert(
      f.channels
        .connect(f.carol)
        .openWithPermit(f.bob.address, 2n, value, 3600, deadline, sig.v, sig.r, sig.s),
      f.token.interface,
      "ERC20InsufficientAllowance",
    );
  });

  it("supports ERC-1363 and rejects a second open of an existing id in one block", async () => {
    expect(await f.token.supportsInterface("0xb0202a11")).toBe(true);
    await (await f.token.connect(f.alice).approve(await f.channels.getAddress(), 10n)).wait();
    await f.provider.send("evm_setAutomine", [false]);
    try {
      const t1 = await f.channels
        .connect(f.alice)
        .open(f.bob.address, 7n, 1n, 3600, { gasLimit: 200_000 });
      const t2 = await f.channels
        .connect(f.alice)
        .open(f.bob.address, 7n, 1n, 3600, { gasLimit: 200_000 });
      await f.provider.send("evm_mine", []);
      expect((await f.provider.getTransactionReceipt(t1.hash))!.status).toBe(1);
      expect((await f.provider.getTransactionReceipt(t2.hash))!.status).toBe(0);
      const trace = await f.provider.send("debug_traceTransaction", [
        t2.hash,
        { disableStorage: true, disableMemory: true, disableStack: true },
      ]);
      const data = trace.returnValue.startsWith("0x")
        ? trace.returnValue
        : `0x${trace.returnValue}`;
      expect(f.channels.interface.parseError(data)?.name).toBe("ChannelExists");
    } finally {
      await f.provider.send("evm_setAutomine", [true]);
    }
    void openChannel;
  });
});
