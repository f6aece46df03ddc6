import { HDNodeWallet, type Provider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainClient, connectChain, providerFor } from "../../../channels/chain/client.ts";
import { type ChainError, isChainError } from "../../../channels/chain/errors.ts";
import type { Address } from "../../../channels/types.ts";
import { deployFixture, type Fixture } from "../../helpers/chain.ts";

const D = 10n ** 18n;
let f: Fixture;
let provider: Provider;
let alice: ChainClient;
let bob: ChainClient;
let channels: Address;

const clientFor = (w: HDNodeWallet, extra: object = {}) =>
  connectChain({ signer: w.connect(provider), channels, ...extra });

beforeAll(async () => {
  f = await deployFixture();
  provider = providerFor(f.connection.provider);
  channels = (await f.channels.getAddress()) as Address;
  alice = await clientFor(f.alice);
  bob = await clientFor(f.bob);
});
afterAll(() => f.connection.close());

describe("chain client", () => {
  it("runs a channel's whole life: open with permit, top-ups both ways, cooperative close", async () => {
    const opened = await alice.open({
      partner: f.bob.address as Address,
      amount: 5n * D,
      settleWindow: 600,
    });
    expect(opened.participants.a).toBe(f.alice.address);
    expect(await alice.readChannel(opened.channelId)).toEqual({
      status: "open",
      settleWindow: 600,
      depositA: 5n * D,
      depositB: 0n,
    });
    await bob.topUp(opened.channelId, true, 2n * D);
    await bob.approve(D);
    await bob.topUp(opened.channelId, true, D, "allowance");
    expect(await alice.readChannel(opened.channelId)).toMatchObject({
      depositA: 5n * D,
      depositB: 3n * D,
    });
    const [a0, b0] = [await alice.tokenBalance(), await bob.tokenBalance()];
    const pa = 4n * D;
    const pb = 4n * D;
    await bob.cooperativeClose(
      opened.participants,
      pa,
      pb,
      f.signSettlement(f.alice, opened.channelId, pa, pb),
      f.signSettlement(f.bob, opened.channelId, pa, pb),
    );
    expect(await alice.tokenBalance()).toBe(a0 + pa);
    expect(await bob.tokenBalance()).toBe(b0 + pb);
    expect(await alice.readChannel(opened.channelId)).toEqual({ status: "none" });
  });

  it("closes, disputes and settles", async () => {
    const { channelId, participants } = await alice.open({
      partner: f.bob.address as Address,
      amount: 5n * D,
      settleWindow: 60,
    });
    const proof = { channelId, nonce: 3n, transferred: D };
    const closed = await bob.close(participants, {
      proof,
      signature: f.signProof(f.alice, channelId, 3n, D),
    });
    expect(await bob.readChannel(channelId)).toEqual({
      status: "closing",
      finalizesAt: closed.finalizesAt,
    });
    const closing = {
      a: participants.a,
      b: participants.b,
      depositA: 5n * D,
      depositB: 0n,
      nonceA: 3n,
      sentA: D,
      nonceB: 0n,
      sentB: 0n,
    };
    await bob.updateProof(channelId, closing, false, {
      proof: { channelId, nonce: 4n, transferred: 2n * D },
      signature: f.signProof(f.alice, channelId, 4n, 2n * D, true),
    });
    await f.advance(60);
    const b0 = await bob.tokenBalance();
    await bob.settle(channelId, { ...closing, nonceA: 4n, sentA: 2n * D });
    expect(await bob.tokenBalance()).toBe(b0 + 2n * D);
  });

  it("keeps nonces in order for many concurrent transactions from one account", async () => {
    const partner = f.bob.address as Address;
    await alice.approve(100n * D);
    const opened = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        alice.open({ partner, amount: D, settleWindow: 60, salt: BigInt(1000 + i), permit: false }),
      ),
    );
    expect(new Set(opened.map((o) => o.channelId)).size).toBe(12);
    // A transaction that would revert does not burn a nonce: the next ones still go through.
    const bad = alice.open({
      partner: f.alice.address as Address,
      amount: D,
      settleWindow: 60,
      permit: false,
    });
    const good = alice.open({ partner, amount: D, settleWindow: 60, permit: false });
    await expect(bad).rejects.toMatchObject({
      code: "CONTRACT_REVERT",
      details: { errorName: "InvalidPartner" },
    });
    await expect(good).resolves.toHaveProperty("channelId");
  });

  it("opens concurrently with permits: each permit signs the nonce its turn leaves", async () => {
    const partners = [f.bob, f.carol, f.stranger].map((w) => w.address as Address);
    const opened = await Promise.all(
      partners.map((partner) => alice.open({ partner, amount: D, settleWindow: 60, permit: true })),
    );
    expect(new Set(opened.map((o) => o.channelId)).size).toBe(3);
    for (const [i, o] of opened.entries()) expect(o.participants.b).toBe(partners[i]);
  });

  it("names the contract's custom error when a call reverts", async () => {
    const { channelId, participants } = await alice.open({
      partner: f.bob.address as Address,
      amount: D,
      settleWindow: 60,
    });
    await bob.close(participants);
    const err = await bob.close(participants).catch((e: unknown) => e);
    expect(isChainError(err, "CONTRACT_REVERT", "ChannelNotOpen")).toBe(true);
    expect((err as ChainError).details.errorArgs).toEqual([channelId]);
    await expect(
      alice.open({ partner: f.bob.address as Address, amount: D, settleWindow: 1 }),
    ).rejects.toMatchObject({
      code: "CONTRACT_REVERT",
      details: { errorName: "SettleWindowOutOfBounds" },
    });
  });

  it("checks balance and allowance before sending", async () => {
    const poor = HDNodeWallet.createRandom().connect(provider);
    await (await f.deployer.sendTransaction({ to: poor.address, value: 10n ** 18n })).wait();
    const client = await clientFor(poor);
    await expect(
      client.open({ partner: f.bob.address as Address, amount: 1n, settleWindow: 60 }),
    ).rejects.toMatchObject({
      code: "INSUFFICIENT_TOKEN_BALANCE",
    });
    await (await f.token.connect(f.alice).transfer(poor.address, D)).wait();
    await expect(
      client.open({
        partner: f.bob.address as Address,
        amount: D,
        settleWindow: 60,
        permit: false,
      }),
    ).rejects.toMatchObject({
      code: "INSUFFICIENT_ALLOWANCE",
    });
    const broke = await clientFor(HDNodeWallet.createRandom());
    await expect(broke.approve(1n)).rejects.toMatchObject({ code: "INSUFFICIENT_GAS_FUNDS" });
  });

  it("refuses a wrong chain id, an address without the contract, and an unreachable RPC", async () => {
    await expect(clientFor(f.alice, { expectedChainId: 1n })).rejects.toMatchObject({
      code: "WRONG_CHAIN",
    });
    await expect(
      connectChain({ signer: f.alice.connect(provider), channels: f.alice.address as Address }),
    ).rejects.toMatchObject({ code: "NO_CONTRACT" });
    await expect(
      connectChain({
        signer: f.alice.connect(provider),
        channels: (await f.token.getAddress()) as Address,
      }),
    ).rejects.toMatchObject({ code: "NO_CONTRACT" });
    const dead = providerFor("http://127.0.0.1:9");
    await expect(
      connectChain({
        signer: f.alice.connect(dead),
        channels,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 },
      }),
    ).rejects.toMatchObject({ code: "RPC_UNREACHABLE" });
    dead.destroy();
  });

  it("retries transient RPC failures", async () => {
    let failures = 3;
    const eip1193 = f.connection.provider;
    const flaky = {
      request: async (args: { method: string; params?: unknown[] }) => {
        if (args.method === "eth_getCode" && failures-- > 0) {
          throw Object.assign(new Error("connect ECONNRESET 127.0.0.1:8545"), {
            code: "ECONNRESET",
          });
        }
        return eip1193.request(args);
      },
    };
    const client = await connectChain({
      signer: f.alice.connect(providerFor(flaky)),
      channels,
      retry: { attempts: 5, baseDelayMs: 5, maxDelayMs: 20 },
    });
    expect(failures).toBe(-1);
    expect(client.chainId).toBe(f.chainId);
  });
});
