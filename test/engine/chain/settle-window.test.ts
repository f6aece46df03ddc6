import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChainClient,
  connectChain,
  MAX_SETTLE_WINDOW_SECONDS,
  MIN_SETTLE_WINDOW_SECONDS,
  providerFor,
} from "../../../channels/chain/index.ts";
import type { Address } from "../../../channels/types.ts";
import { deployContracts, devWallet, startEmbeddedChain } from "../../../engine/chain/index.ts";

let chain: Awaited<ReturnType<typeof startEmbeddedChain>>;
let client: ChainClient;

beforeAll(async () => {
  chain = await startEmbeddedChain();
  const provider = providerFor(chain.provider!);
  const alice = devWallet(1).connect(provider);
  const d = await deployContracts(devWallet(0).connect(provider), {
    holders: [{ address: alice.address as Address, amount: 10n ** 21n }],
  });
  client = await connectChain({ signer: alice, channels: d.channels });
});
afterAll(() => chain.stop());

describe("settle window bounds", () => {
  it("are 10 s and 30 days, as tollway deploys the contract and as it reads them back", async () => {
    expect(MIN_SETTLE_WINDOW_SECONDS).toBe(10);
    expect(MAX_SETTLE_WINDOW_SECONDS).toBe(30 * 24 * 3600);
    expect(await client.settleWindowBounds()).toEqual({
      minSeconds: MIN_SETTLE_WINDOW_SECONDS,
      maxSeconds: MAX_SETTLE_WINDOW_SECONDS,
    });
  });

  it.each([
    [MIN_SETTLE_WINDOW_SECONDS - 1, false],
    [MIN_SETTLE_WINDOW_SECONDS, true],
    [MAX_SETTLE_WINDOW_SECONDS, true],
    [MAX_SETTLE_WINDOW_SECONDS + 1, false],
  ])("a channel with a %i s window opens: %s", async (settleWindow, opens) => {
    const open = client.open({
      partner: devWallet(2).address as Address,
      amount: 1n,
      settleWindow,
    });
    if (opens) await expect(open).resolves.toHaveProperty("channelId");
    else
      await expect(open).rejects.toMatchObject({
        code: "CONTRACT_REVERT",
        details: { errorName: "SettleWindowOutOfBounds" },
      });
  });
});
