/**
 * What is PaymentChannels' own in its backend: the channel reference (the contract's id
 * derivation), reads and the feed in small getLogs ranges, and participants found from the
 * opening log by a backend that never saw the channel.
 */

import type { Provider } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainClient, connectChain, providerFor } from "../../../channels/chain/client.ts";
import type { ChannelRef } from "../../../channels/settlement/channel-ref.ts";
import type { ChainEvent } from "../../../channels/settlement/events.ts";
import { paymentChannelsSettlement } from "../../../channels/settlement/payment-channels/backend.ts";
import {
  channelIdOf,
  decodeChannelRef,
  encodeChannelRef,
} from "../../../channels/settlement/payment-channels/channel-ref.ts";
import type { Address } from "../../../channels/types.ts";
import { deployFixture, type Fixture } from "../../helpers/chain.ts";

const D = 10n ** 18n;
let f: Fixture;
let provider: Provider;
let alice: ChainClient;
let bob: ChainClient;
beforeAll(async () => {
  f = await deployFixture();
  provider = providerFor(f.connection.provider);
  const channels = (await f.channels.getAddress()) as Address;
  alice = await connectChain({ signer: f.alice.connect(provider), channels });
  bob = await connectChain({ signer: f.bob.connect(provider), channels });
});
afterAll(() => f.connection.close());

const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => `0x${Buffer.from(b).toString("hex")}` as Address);

describe("PaymentChannels channel references", () => {
  it("round-trip, and anything else is not one", () => {
    fc.assert(
      fc.property(
        address,
        address,
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (a, b, salt, openBlock) => {
          const p = { a, b, salt, openBlock };
          const ref = encodeChannelRef(p);
          expect(decodeChannelRef(ref)).toEqual(p);
          expect(decodeChannelRef(`${ref}00` as ChannelRef)).toBeUndefined();
          expect(decodeChannelRef(ref.slice(0, -2) as ChannelRef)).toBeUndefined();
        },
      ),
    );
  });

  it("derive the id the contract derives", async () => {
    const opened = await alice.open({
      partner: f.bob.address as Address,
      amount: D,
      settleWindow: 60,
    });
    expect(channelIdOf(opened.participants)).toBe(opened.channelId);
    expect(
      await f.channels.channelIdOf(
        opened.participants.a,
        opened.participants.b,
        opened.participants.salt,
        opened.participants.openBlock,
      ),
    ).toBe(opened.channelId);
    // A reference to a channel that was never opened resolves to nothing.
    const never = encodeChannelRef({ ...opened.participants, salt: opened.participants.salt + 1n });
    expect(await paymentChannelsSettlement(bob).resolve(never)).toMatchObject({
      ok: false,
      code: "CHANNEL_UNKNOWN",
    });
  });
});

describe("PaymentChannels backend reads", () => {
  it("feeds the same events in ranges of two blocks, and rebuilds a closing channel it never saw", async () => {
    const opener = paymentChannelsSettlement(alice);
    const start = (await opener.now()).block;
    const { channelId } = await opener.send({
      type: "ChainSendOpen",
      partner: f.bob.address as Address,
      amount: 3n * D,
      settleWindow: 60,
    });
    await opener.send({ type: "ChainSendDeposit", channelId, participant: "B", amount: D });
    await opener.send({ type: "ChainSendDeposit", channelId, participant: "A", amount: D });
    await opener.send({ type: "ChainSendClose", channelId, proof: null });
    const end = (await opener.now()).block;
    const read = async (range: number) => {
      const out: ChainEvent[] = [];
      const s = paymentChannelsSettlement(bob, { fromBlock: start, maxBlockRange: range });
      for await (const e of s.events(start, end)) if (e.type !== "ChainBlock") out.push(e);
      return out;
    };
    expect(await read(2)).toEqual(await read(2_000));
    const fresh = paymentChannelsSettlement(bob, { fromBlock: start, maxBlockRange: 2 });
    expect(await fresh.channel(channelId)).toMatchObject({
      status: "closing",
      a: f.alice.address.toLowerCase(),
      b: f.bob.address.toLowerCase(),
      closing: { depositA: 4n * D, depositB: D, nonceA: 0n, nonceB: 0n },
    });
  });
});
