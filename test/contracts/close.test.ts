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

describe("close (unilateral)", () => {
  it("B closes with A's latest proof; the window starts and the state is committed", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 1n, 10n * D, 600);
    const receipt = await (
      await f.channels.connect(f.bob).close(p, 3n, 2n * D, f.signProof(f.alice, id, 3n, 2n * D))
    ).wait();
    const block = await f.provider.getBlock(receipt!.blockNumber);
    const log = f.channels.interface.parseLog(receipt!.logs[0]!);
    expect(log?.name).toBe("ChannelClosed");
    expect(log?.args.toArray()).toEqual([
      id,
      f.bob.address,
      3n,
      2n * D,
      BigInt(block!.timestamp + 600),
    ]);
    const [status, finalizesAt] = await f.channels.channelInfo(id);
    expect([status, finalizesAt]).toEqual([2n, BigInt(block!.timestamp + 600)]);
    const closing = closingAfterClose(p, { a: 10n * D, b: 0n }, false, 3n, 2n * D);
    const packed = await f.channels.channels(id);
    expect(BigInt(await f.channels.closingHash(closing))).toBe(packed & ~((1n << 48n) - 1n));
  });

  it("A closes with no proof from B (nonce 0)", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 2n, D);
    await (await f.channels.connect(f.alice).close(p, 0n, 0n, "0x")).wait();
    expect((await f.channels.channelInfo(id))[0]).toBe(2n);
  });

  it("accepts 64-byte EIP-2098 signatures", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 3n, D);
    await (
      await f.channels.connect(f.bob).close(p, 1n, D, f.signProof(f.alice, id, 1n, D, true))
    ).wait();
    expect((await f.channels.channelInfo(id))[0]).toBe(2n);
  });

  it("rejects a non-participant, a proof by the closer itself, and a transfer under nonce 0", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 4n, D);
    const iface = f.channels.interface;
    const proof = f.signProof(f.alice, id, 1n, D);
    await expectRevert(f.channels.connect(f.carol).close(p, 1n, D, proof), iface, "NotParticipant");
    // A closing with its own proof would only be a way to lower what it owes.
    await expectRevert(
      f.channels.connect(f.alice).close(p, 1n, D, proof),
      iface,
      "InvalidSignature",
    );
    await expectRevert(
      f.channels.connect(f.bob).close(p, 0n, 1n, "0x"),
      iface,
      "EmptyProofTransfers",
    );
    expect((await f.channels.channelInfo(id))[0]).toBe(1n);
  });

  it("rejects proofs signed for another channel, contract or chain", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 5n, D);
    const other = await openChannel(f, f.alice, f.bob, 6n, D);
    const iface = f.channels.interface;
    await expectRevert(
      f.channels.connect(f.bob).close(p, 1n, D, f.signProof(f.alice, other.id, 1n, D)),
      iface,
      "InvalidSignature",
    );
    const { balanceProofDigest, eip712Domain } = await import("../../channels/crypto/eip712.ts");
    const { encodeSig } = await import("../helpers/chain.ts");
    for (const domain of [
      eip712Domain({
        chainId: f.chainId + 1n,
        verifyingContract: (await f.channels.getAddress()) as never,
      }),
      eip712Domain({
        chainId: f.chainId,
        verifyingContract: (await f.token.getAddress()) as never,
      }),
    ]) {
      const sig = encodeSig(
        f.alice.signingKey.sign(
          balanceProofDigest(domain, { channelId: id, nonce: 1n, transferred: D }),
        ),
        false,
      );
      await expectRevert(f.channels.connect(f.bob).close(p, 1n, D, sig), iface, "InvalidSignature");
    }
  });

  it("rejects high-s (malleable) signatures and a bad v", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 7n, D);
    const sig = f.signProof(f.alice, id, 1n, D);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${Buffer.from(sig.slice(32, 64)).toString("hex")}`);
    const highS = Uint8Array.from(sig);
    highS.set(Buffer.from((n - s).toString(16).padStart(64, "0"), "hex"), 32);
    highS[64] = sig[64] === 27 ? 28 : 27;
    const badV = Uint8Array.from(sig);
    badV[64] = 29;
    const iface = f.channels.interface;
    await expectRevert(f.channels.connect(f.bob).close(p, 1n, D, highS), iface, "InvalidSignature");
    await expectRevert(f.channels.connect(f.bob).close(p, 1n, D, badV), iface, "InvalidSignature");
  });

  it("cannot close twice or close a closing channel cooperatively", async () => {
    const { id, p } = await openChannel(f, f.alice, f.bob, 8n, D);
    await (await f.channels.connect(f.alice).close(p, 0n, 0n, "0x")).wait();
    const iface = f.channels.interface;
    await expectRevert(f.channels.connect(f.bob).close(p, 0n, 0n, "0x"), iface, "ChannelNotOpen");
    await expectRevert(
      f.channels.cooperativeClose(
        p,
        D,
        0n,
        f.signSettlement(f.alice, id, D, 0n),
        f.signSettlement(f.bob, id, D, 0n),
      ),
      iface,
      "ChannelNotOpen",
    );
  });
});
