/**
 * The watcher shell over the in-memory settlement backend, with a real level store: it answers a
 * stale close and settles, resumes from its saved cursor after a restart (the close happening
 * while it was down), and carries out the closes and settles asked of it through the machine.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isChannelError } from "../../../channels/errors.ts";
import { MemoryChain } from "../../../channels/settlement/memory/memory-chain.ts";
import type { SignedPaymentProof } from "../../../channels/settlement/payment-proof.ts";
import type { ChannelId } from "../../../channels/types.ts";
import { startWatcher } from "../../../channels/watcher/watcher.ts";
import { alice, bob, domain } from "../helpers.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-watcher-memory-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function world() {
  const chain = new MemoryChain({
    domain,
    balances: [
      [alice.address, 1_000n],
      [bob.address, 1_000n],
    ],
  });
  /** Bob's book of the proofs alice sent him. */
  const received = new Map<ChannelId, SignedPaymentProof>();
  const pay = (channelId: ChannelId, nonce: bigint, transferred: bigint) => {
    const proof = { channelId, nonce, transferred };
    received.set(channelId, { proof, signature: alice.signBalanceProof(domain, proof) });
  };
  const open = () =>
    chain.execute(alice.address, {
      type: "ChainSendOpen",
      partner: bob.address,
      amount: 100n,
      settleWindow: 60,
    }).channelId;
  return { chain, received, pay, open };
}

describe("watcher over the in-memory chain", () => {
  it("resumes from its saved cursor after a restart and wins the dispute the partner started while it was down", async () => {
    const { chain, received, pay, open } = world();
    const store = join(dir, "resume");
    const settlement = chain.backendFor(bob.address);
    const opts = { settlement, dir: store, partnerProof: (id: ChannelId) => received.get(id) };
    let watcher = await startWatcher({ ...opts, fromBlock: 1 });
    const id = open();
    await watcher.poll();
    expect(watcher.state.channels.get(id)?.status).toBe("open");
    const cursor = watcher.state.cursor;
    await watcher.stop();

    pay(id, 3n, 40n);
    chain.execute(alice.address, { type: "ChainSendClose", channelId: id, proof: null });
    chain.advance(30);

    watcher = await startWatcher(opts);
    expect(watcher.state.cursor).toBe(cursor);
    const closed: unknown[] = [];
    watcher.on("closed", (...args) => closed.push(args));
    await watcher.poll();
    expect(closed).toHaveLength(1);
    expect(chain.read(id)).toMatchObject({ closing: { nonceA: 3n, sentA: 40n } });
    chain.advance(30);
    const before = chain.balanceOf(bob.address);
    await watcher.poll(); // sends settle
    await watcher.poll(); // sees it
    expect(chain.balanceOf(bob.address)).toBe(before + 40n);
    expect(watcher.state.channels.has(id)).toBe(false);
    await watcher.stop();
  });

  it("closes through the machine with the partner's best proof, refuses a second close and an early settle, then settles", async () => {
    const { chain, received, pay, open } = world();
    const watcher = await startWatcher({
      settlement: chain.backendFor(bob.address),
      dir: join(dir, "close"),
      fromBlock: 1,
      partnerProof: (id) => received.get(id),
    });
    const id = open();
    pay(id, 2n, 25n);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => (isChannelError(e) ? e.code : e),
      );
    expect(await code(watcher.close(id))).toBe("CHANNEL_NOT_OPEN"); // not seen open yet
    await watcher.poll();
    const tx = await watcher.close(id);
    expect(tx.finalizesAt).toBe(chain.time + 60);
    expect(await code(watcher.close(id))).toBe("CHANNEL_CLOSED");
    await watcher.poll();
    expect(chain.read(id)).toMatchObject({ closing: { nonceA: 2n, sentA: 25n } });
    expect(await code(watcher.settle(id))).toBe("SETTLE_TOO_EARLY");
    chain.advance(60);
    const before = chain.balanceOf(bob.address);
    await watcher.settle(id);
    expect(chain.balanceOf(bob.address)).toBe(before + 25n);
    await watcher.poll();
    expect(watcher.state.channels.size).toBe(0);
    expect(await code(watcher.settle(id))).toBe("CHANNEL_NOT_CLOSED");
    await watcher.stop();
  });
});
