/**
 * The watcher on chains as users run them: one that mines only on transactions, one that mines
 * on a timer, and an RPC that stops answering for a while. In each, a partner closes with a
 * stale proof; the watcher answers with the latest one and settles by itself, with no other
 * transaction sent to move the chain along.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes, type HDNodeWallet, type JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChainClient,
  type ChainError,
  connectChain,
  providerFor,
} from "../../../channels/chain/index.ts";
import { balanceProofDigest, eip712Domain } from "../../../channels/crypto/eip712.ts";
import { paymentChannelsSettlement } from "../../../channels/settlement/payment-channels/backend.ts";
import type { SignedBalanceProof } from "../../../channels/signed.ts";
import type { Address, ChannelId } from "../../../channels/types.ts";
import { startWatcher, type Watcher } from "../../../channels/watcher/index.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  serveEmbeddedChain,
  startEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { type FakeRpc, startFakeRpc } from "../chain/fake-rpc.ts";

const D = 10n ** 18n;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-watcher-chains-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Alice (the opener, who will cheat) on a fresh deployment, and a client for Bob on `bobRpc`. */
async function setup(
  rpc: string | NonNullable<EmbeddedChain["provider"]>,
  bobRpc = providerFor(rpc),
  bobRetry?: Parameters<typeof connectChain>[0]["retry"],
) {
  const provider = providerFor(rpc) as JsonRpcProvider;
  const alice = devWallet(1).connect(provider);
  const bobWallet = devWallet(2);
  const d = await deployContracts(devWallet(0).connect(provider), {
    holders: [alice, bobWallet].map((w) => ({ address: w.address as Address, amount: 100n * D })),
  });
  const fast = { receiptPollIntervalMs: 100 };
  return {
    provider,
    bobAddress: bobWallet.address as Address,
    alice: await connectChain({ signer: alice, channels: d.channels, ...fast }),
    bob: await connectChain({
      signer: bobWallet.connect(bobRpc),
      channels: d.channels,
      retry: bobRetry,
      ...fast,
    }),
  };
}

/** Bob's book of the proofs Alice sent him. */
function proofBook(alice: HDNodeWallet, chain: ChainClient) {
  const received = new Map<ChannelId, SignedBalanceProof>();
  const domain = eip712Domain(chain.domain);
  return {
    received,
    pay(channelId: ChannelId, nonce: bigint, transferred: bigint) {
      const sig = alice.signingKey.sign(
        balanceProofDigest(domain, { channelId, nonce, transferred }),
      );
      received.set(channelId, {
        proof: { channelId, nonce, transferred },
        signature: getBytes(sig.serialized),
      });
    },
  };
}

function until<T>(what: string, watcher: Watcher, event: string, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    watcher.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Alice opens to Bob, pays him 3 tokens off chain, then closes claiming she paid nothing. */
async function cheat(alice: ChainClient, bob: Address, book: ReturnType<typeof proofBook>) {
  const opened = await alice.open({ partner: bob, amount: 10n * D, settleWindow: 10 });
  book.pay(opened.channelId, 1n, D);
  book.pay(opened.channelId, 2n, 3n * D);
  return opened;
}

describe("the watcher settles by itself", () => {
  it("on a chain that mines only on transactions, once the chain's clock passes the window with no block mined", async () => {
    const chain = await startEmbeddedChain();
    const s = await setup(chain.provider!);
    const bob = s.bob;
    const book = proofBook(devWallet(1), s.alice);
    const watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: join(dir, "automine"),
      pollIntervalMs: 100,
      partnerProof: (id) => book.received.get(id),
    });
    const errors: unknown[] = [];
    watcher.on("error", (e) => errors.push(e));
    watcher.start();
    const opened = await cheat(s.alice, s.bobAddress, book);
    const updated = until("update", watcher, "updated", 20_000);
    await s.alice.close(opened.participants);
    await updated;
    const before = await bob.tokenBalance();
    const settled = until("settle", watcher, "settled", 20_000);
    // The chain's clock moves past the window; no block is mined, no one else sends anything.
    const head = await bob.blockNumber();
    await s.provider.send("evm_increaseTime", [3_600]);
    await settled;
    expect(await bob.tokenBalance()).toBe(before + 3n * D);
    // The only block after the update is the watcher's own settle.
    expect(await bob.blockNumber()).toBe(head + 1);
    expect(await bob.readChannel(opened.channelId)).toEqual({ status: "none" });
    await watcher.stop();
    expect(errors).toEqual([]);
    await chain.stop();
  });

  it("on a chain that mines every second, on real time, with a 10 s window", async () => {
    const chain = await startEmbeddedChain({ blockTimeSeconds: 1 });
    const s = await setup(chain.provider!);
    const bob = s.bob;
    const book = proofBook(devWallet(1), s.alice);
    const watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: join(dir, "interval"),
      pollIntervalMs: 200,
      partnerProof: (id) => book.received.get(id),
    });
    watcher.start();
    const opened = await cheat(s.alice, s.bobAddress, book);
    const before = await bob.tokenBalance();
    const updated = until("update", watcher, "updated", 20_000);
    const settled = until("settle", watcher, "settled", 40_000);
    await s.alice.close(opened.participants);
    await updated;
    await settled;
    expect(await bob.tokenBalance()).toBe(before + 3n * D);
    await watcher.stop();
    await chain.stop();
  }, 90_000);
});

describe("the watcher behind an RPC that hangs", () => {
  let chain: EmbeddedChain;
  let fake: FakeRpc;
  beforeAll(async () => {
    chain = await serveEmbeddedChain("127.0.0.1", 0);
    fake = await startFakeRpc({ kind: "forward", target: chain.url! });
  });
  afterAll(async () => {
    await fake.close();
    await chain.stop();
  });

  it("survives, keeps retrying with errors that name the RPC, and resumes when it answers again", async () => {
    // Bob's requests go through the fake RPC and give up after 300 ms; two tries per read.
    const watcherProvider = providerFor(fake.url, { timeoutMs: 300 });
    const s = await setup(chain.url!, watcherProvider, {
      attempts: 2,
      baseDelayMs: 50,
      maxDelayMs: 50,
    });
    const bob = s.bob;
    const book = proofBook(devWallet(1), s.alice);
    const watcher = await startWatcher({
      settlement: paymentChannelsSettlement(bob),
      dir: join(dir, "hanging"),
      pollIntervalMs: 100,
      partnerProof: (id) => book.received.get(id),
    });
    const errors: ChainError[] = [];
    watcher.on("error", (e: ChainError) => errors.push(e));
    watcher.start();
    const opened = await cheat(s.alice, s.bobAddress, book);
    while (!watcher.state.channels.has(opened.channelId))
      await new Promise((r) => setTimeout(r, 50));

    fake.mode = { kind: "hang" };
    await s.alice.close(opened.participants);
    const t0 = performance.now();
    while (errors.length < 3) await new Promise((r) => setTimeout(r, 50));
    // Each failed poll ends within its bound (two tries of 300 ms), and the next one follows.
    expect(performance.now() - t0).toBeLessThan(20_000);
    for (const err of errors) {
      expect(err.code).toBe("RPC_TIMEOUT");
      expect(err.details.url).toBe(fake.url);
    }
    expect(watcher.state.channels.get(opened.channelId)?.status).toBe("open");

    const updated = until("update", watcher, "updated", 20_000);
    fake.mode = { kind: "forward", target: chain.url! };
    await updated;
    const before = await s.alice.tokenBalance(s.bobAddress);
    const settled = until("settle", watcher, "settled", 20_000);
    await s.provider.send("evm_increaseTime", [3_600]);
    await settled;
    expect(await s.alice.tokenBalance(s.bobAddress)).toBe(before + 3n * D);
    await watcher.stop();
    watcherProvider.destroy();
    s.provider.destroy();
  }, 90_000);
});
