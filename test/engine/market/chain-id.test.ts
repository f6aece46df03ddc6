/**
 * The market signs for the chain it serves: `tollway market` against an embedded chain with a
 * chain id other than Hardhat's default reads that id and accepts orders signed for it (and
 * refuses orders signed for 31337); it refuses to start when it can neither read the id nor
 * was given one, or when `--chain-id` disagrees with the chain.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { marketDomain } from "../../../engine/market/api/index.ts";
import { readChainId } from "../../../engine/node/market.ts";
import { type MarketProcess, runCli, startMarket } from "./helpers/market-process.ts";
import { addressOf, body, newWallet, offerSpec, signOrder } from "./helpers/signing.ts";

const CHAIN_ID = 4242;
let url: string;
let stop: () => Promise<void>;
let dir: string;
const running: MarketProcess[] = [];

beforeAll(async () => {
  const hre = await createHardhatRuntimeEnvironment({
    networks: {
      default: { type: "edr-simulated", chainType: "l1", hardfork: "cancun", chainId: CHAIN_ID },
    },
  } as never);
  const server = await hre.network.createServer("default", "127.0.0.1", 0);
  const bound = await server.listen();
  url = `http://${bound.address}:${bound.port}`;
  stop = () => server.close();
  dir = await mkdtemp(join(tmpdir(), "tollway-chain-id-"));
});
afterAll(async () => {
  for (const m of running) await m.kill();
  await stop();
  await rm(dir, { recursive: true, force: true });
});

async function place(marketUrl: string, chainId: number) {
  const w = newWallet();
  const spec = offerSpec(addressOf(w));
  const res = await fetch(`${marketUrl}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body({ order: spec, signature: await signOrder(w, marketDomain(chainId), spec) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("the market's chain id", () => {
  it("reads eth_chainId, with a timeout", async () => {
    expect(await readChainId(url)).toBe(CHAIN_ID);
    await expect(readChainId("http://127.0.0.1:9", 500)).rejects.toMatchObject({
      code: "NO_CHAIN_ID",
    });
  });

  it("a market started against the chain accepts orders signed for that chain", async () => {
    const m = await startMarket(["--rpc", url, "--data-dir", join(dir, "a")]);
    running.push(m);
    expect(m.chainId).toBe(CHAIN_ID);
    expect(await place(m.url, CHAIN_ID)).toMatchObject({ status: 201, json: { status: "open" } });
    expect(await place(m.url, 31337)).toMatchObject({
      status: 403,
      json: { code: "WRONG_SIGNER" },
    });
    await m.kill();
  });

  it("refuses to start with no chain and no --chain-id, or with a --chain-id the chain disagrees with", async () => {
    const none = await runCli([
      "--json",
      "--rpc",
      "http://127.0.0.1:9",
      "--data-dir",
      join(dir, "b"),
      "market",
      "--port",
      "0",
      "--chain-timeout",
      "500",
    ]);
    expect(none.code).not.toBe(0);
    expect(JSON.parse(none.err)).toMatchObject({
      error: { code: "CHAIN", details: { rpc: "http://127.0.0.1:9" } },
    });
    const wrong = await runCli([
      "--json",
      "--rpc",
      url,
      "--chain-id",
      "31337",
      "--data-dir",
      join(dir, "c"),
      "market",
      "--port",
      "0",
    ]);
    expect(wrong.code).not.toBe(0);
    expect(JSON.parse(wrong.err)).toMatchObject({
      error: { code: "CHAIN", details: { chainId: 4242, expectedChainId: "31337" } },
    });
  });
});
