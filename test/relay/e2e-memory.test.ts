/**
 * End to end on the in-memory settlement chain: a requester and a provider node that both reach
 * the chain only through the settlement interface, over a real WebSocket and real level stores.
 * The requester opens a channel, pays per second through the metered proxy, tops the channel up,
 * pays again, and closes it cooperatively; the chain pays each side what the proofs say.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import {
  closeCooperatively,
  openChannel,
  readChannel,
  topUpChannel,
} from "../../relay/requester/channel-funds.ts";
import { connect } from "../../relay/requester/client.ts";
import {
  keyOf,
  memoryChain,
  providerAddress,
  removeDir,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";

const PRICE = 10n;
const chain = memoryChain();
const key = keyOf("memory-e2e");
const requester = createSigner(key).address;
const settlement = chain.backendFor(requester);
let p: TestProvider;
let storeDir: string;

beforeAll(async () => {
  p = await startProvider({}, undefined, chain);
  storeDir = mkdtempSync(join(tmpdir(), "tollway-e2e-memory-"));
  chain.mint(requester, 10_000n);
});
afterAll(async () => {
  await p.stop();
  removeDir(p.dir);
  removeDir(storeDir);
});

describe("relay end to end on the in-memory chain", () => {
  it("opens, pays per second, tops up, pays again and closes cooperatively", async () => {
    const store = await ChannelStore.open(storeDir);
    const client = await connect({ key, url: p.node.url, domain: settlement.domain, store });
    try {
      const opened = await openChannel(settlement, {
        partner: client.provider,
        amount: 100n,
        settleWindow: 600,
      });
      expect(opened.tx.blockNumber).toBe(chain.block);
      expect(chain.balanceOf(requester)).toBe(9_900n);

      const first = await client.openSession({
        channel: opened,
        mode: "second",
        unitPrice: PRICE,
        tunnel: { kind: "proxy" },
        payEveryMs: 100,
      });
      await until(() => first.ackedNonce >= 2n, 5_000, "two ACKs");
      await first.close();

      // The provider reads the new deposit from the chain at the next OPEN.
      const topped = await topUpChannel(settlement, opened.channelId, 50n);
      expect(topped).toMatchObject({
        channelId: opened.channelId,
        ref: opened.ref,
        depositA: 150n,
      });
      expect(await readChannel(settlement, opened.channelId)).toEqual({
        channelId: opened.channelId,
        ref: opened.ref,
        depositA: 150n,
        depositB: 0n,
      });
      const second = await client.openSession({
        channel: topped,
        mode: "second",
        unitPrice: PRICE,
        tunnel: { kind: "proxy" },
        payEveryMs: 100,
      });
      expect(p.node.channel(opened.channelId)?.depositA).toBe(150n);
      await until(() => second.ackedNonce > first.ackedNonce, 5_000, "an ACK of the second");
      await second.close();
      const sent = client.channel(opened.channelId)!.sent!.proof;
      await until(() => second.ackedNonce >= sent.nonce, 5_000, "the closing payment's ACK");

      const closed = await closeCooperatively(client, settlement, opened.channelId);
      expect(closed).toMatchObject({ payoutA: 150n - sent.transferred, payoutB: sent.transferred });
      expect(chain.balanceOf(providerAddress)).toBe(sent.transferred);
      expect(chain.balanceOf(requester)).toBe(10_000n - sent.transferred);
      expect(await settlement.channel(opened.channelId)).toEqual({
        status: "none",
        channelId: opened.channelId,
      });
      await expect(readChannel(settlement, opened.channelId)).rejects.toMatchObject({
        code: "CHANNEL_UNKNOWN",
      });
      // Both sides hold the settlement they signed, the requester's in its store.
      const payouts = { payoutA: 150n - sent.transferred, payoutB: sent.transferred };
      expect((await store.loadChannel(opened.channelId))?.settlement?.settlement).toMatchObject(
        payouts,
      );
      expect(p.node.channel(opened.channelId)?.settlement?.settlement).toMatchObject(payouts);
    } finally {
      await client.close();
      await store.close();
    }
  });
});
