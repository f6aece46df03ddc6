import type { JsonRpcProvider } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ChainError,
  connectChain,
  DEFAULT_RPC_TIMEOUT_MS,
  isChainError,
  providerFor,
  redactRpcUrl,
} from "../../../channels/chain/index.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { type FakeRpc, startFakeRpc, startSilentTcp } from "./fake-rpc.ts";

let chain: EmbeddedChain;
let channels: Address;
let fake: FakeRpc;
const forward = () => ({ kind: "forward", target: chain.url! }) as const;

beforeAll(async () => {
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  const provider = providerFor(chain.url!);
  const d = await deployContracts(devWallet(0).connect(provider), {
    holders: [{ address: devWallet(1).address as Address, amount: 10n ** 24n }],
  });
  channels = d.channels;
  provider.destroy();
  fake = await startFakeRpc(forward());
});
afterAll(async () => {
  await fake.close();
  await chain.stop();
});

const elapsed = async (p: Promise<unknown>) => {
  const t0 = performance.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err: err as ChainError, ms: performance.now() - t0 };
};

describe("RPC deadlines", () => {
  it("a node that takes the request and never answers fails each try within the timeout, then the call, naming the URL", async () => {
    fake.mode = { kind: "hang" };
    const provider = providerFor(fake.url, { timeoutMs: 300 });
    const before = fake.requests;
    const { err, ms } = await elapsed(
      connectChain({
        signer: devWallet(1).connect(provider),
        channels,
        retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 100 },
      }),
    );
    expect(err).toBeInstanceOf(ChainError);
    expect(err.code).toBe("RPC_TIMEOUT");
    expect(err.details).toMatchObject({ url: fake.url, method: "eth_chainId", tries: 3 });
    expect(fake.requests - before).toBe(3);
    // Three tries of 300 ms and 150 ms of backoff; far below any default of ethers (5 minutes).
    expect(ms).toBeGreaterThanOrEqual(850);
    expect(ms).toBeLessThan(10_000);
    provider.destroy();
  });

  it("the default deadline is a few seconds", async () => {
    const silent = await startSilentTcp();
    const provider = providerFor(silent.url);
    const { err, ms } = await elapsed(provider.getBlockNumber());
    expect(isChainError(err, "RPC_TIMEOUT")).toBe(true);
    expect(err.details).toMatchObject({ url: silent.url, timeoutMs: DEFAULT_RPC_TIMEOUT_MS });
    expect(ms).toBeGreaterThanOrEqual(DEFAULT_RPC_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(DEFAULT_RPC_TIMEOUT_MS * 3);
    provider.destroy();
    await silent.close();
  });

  it("a node that answers garbage fails at once with RPC_BAD_RESPONSE, not retried", async () => {
    fake.mode = {
      kind: "answer",
      answer: () => ({ headers: { "content-type": "text/html" }, body: "<html>hello</html>" }),
    };
    const provider = providerFor(fake.url, { timeoutMs: 2_000 });
    const before = fake.requests;
    const { err } = await elapsed(
      connectChain({
        signer: devWallet(1).connect(provider),
        channels,
        retry: { attempts: 5, baseDelayMs: 50, maxDelayMs: 100 },
      }),
    );
    expect(err.code).toBe("RPC_BAD_RESPONSE");
    expect(err.details).toMatchObject({ url: fake.url, status: 200 });
    expect(fake.requests - before).toBe(1);
    provider.destroy();
  });

  it("HTTP 503 is an outage (retried), a refused connection names the URL and the reason", async () => {
    fake.mode = { kind: "answer", answer: () => ({ status: 503, body: "busy" }) };
    const provider = providerFor(fake.url, { timeoutMs: 2_000 });
    const before = fake.requests;
    const { err } = await elapsed(
      connectChain({
        signer: devWallet(1).connect(provider),
        channels,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 },
      }),
    );
    expect(err.code).toBe("RPC_UNREACHABLE");
    expect(err.details).toMatchObject({ status: 503, url: fake.url });
    expect(fake.requests - before).toBe(2);
    provider.destroy();

    const dead = providerFor("http://127.0.0.1:9", { timeoutMs: 2_000 });
    const refused = (await elapsed(dead.getBlockNumber())).err;
    expect(refused.code).toBe("RPC_UNREACHABLE");
    expect(refused.details).toMatchObject({ url: "http://127.0.0.1:9", reason: "ECONNREFUSED" });
    dead.destroy();
  });

  it("refuses an answer larger than the cap, declared or streamed", async () => {
    const provider = providerFor(fake.url, { timeoutMs: 2_000, maxResponseBytes: 1_024 });
    const big = `{"jsonrpc":"2.0","id":1,"result":"0x${"0".repeat(4_000)}"}`;
    fake.mode = { kind: "answer", answer: () => ({ body: big }) };
    expect((await elapsed(provider.getBlockNumber())).err).toMatchObject({
      code: "RPC_BAD_RESPONSE",
      details: { maxResponseBytes: 1_024 },
    });
    fake.mode = {
      kind: "answer",
      answer: () => ({
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        body: big,
      }),
    };
    const { err } = await elapsed(provider.getBlockNumber());
    expect(err).toMatchObject({ code: "RPC_BAD_RESPONSE", details: { maxResponseBytes: 1_024 } });
    provider.destroy();
  });

  it("keeps keys and passwords of the URL out of its errors", async () => {
    fake.mode = { kind: "hang" };
    const port = new URL(fake.url).port;
    const secretUrl = `http://user:hunter2@127.0.0.1:${port}/v3/0123456789abcdef0123456789abcdef?apikey=s3cr3t`;
    expect(redactRpcUrl(secretUrl)).toBe(`http://127.0.0.1:${port}/v3/***`);
    const provider = providerFor(secretUrl, { timeoutMs: 200 });
    const { err } = await elapsed(provider.getBlockNumber());
    expect(err.code).toBe("RPC_TIMEOUT");
    for (const secret of ["hunter2", "0123456789abcdef0123456789abcdef", "s3cr3t"]) {
      expect(err.message).not.toContain(secret);
      expect(JSON.stringify(err.details)).not.toContain(secret);
    }
    provider.destroy();
  });

  it("destroy() ends requests in flight at once, and a node that comes back is served again", async () => {
    fake.mode = { kind: "hang" };
    const provider = providerFor(fake.url, { timeoutMs: 30_000 });
    const pending = elapsed(provider.getBlockNumber());
    await new Promise((r) => setTimeout(r, 100));
    provider.destroy();
    const { err, ms } = await pending;
    expect((err as unknown as { code: string }).code).toBe("UNSUPPORTED_OPERATION");
    expect(ms).toBeLessThan(5_000);

    const again = providerFor(fake.url, { timeoutMs: 300 }) as JsonRpcProvider;
    expect((await elapsed(again.getBlockNumber())).err.code).toBe("RPC_TIMEOUT");
    fake.mode = forward();
    expect(await again.getBlockNumber()).toBeGreaterThan(0);
    again.destroy();
  });

  it("fuzz: whatever bytes a node answers, a read is a number or a typed ChainError, and an honest node is served after", async () => {
    fake.mode = forward();
    const provider = providerFor(fake.url, { timeoutMs: 2_000, maxResponseBytes: 64 * 1024 });
    const client = await connectChain({
      signer: devWallet(1).connect(provider),
      channels,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const protoKeys = fc.constantFrom("__proto__", "toString", "constructor", "valueOf", "result");
    const value = fc.oneof(
      fc.anything(),
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.dictionary(protoKeys, fc.anything()),
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 2_048 }),
      fc.json().map((j) => j),
      fc.string({ unit: "binary", maxLength: 512 }),
      fc.integer({ min: 1, max: 200_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
      fc.integer({ min: 60_000, max: 300_000 }).map((n) => `"${"a".repeat(n)}"`),
      fc.record({ result: value, error: value, id: value }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (b, echoId) => {
        fake.mode = {
          kind: "answer",
          answer: (id) => ({
            body:
              b instanceof Uint8Array || typeof b === "string"
                ? b
                : JSON.stringify({ jsonrpc: "2.0", ...(echoId ? { id } : {}), ...b }),
          }),
        };
        const out = await client.blockNumber().then(
          (n) => ({ n }),
          (e: unknown) => ({ e }),
        );
        if ("e" in out) {
          expect(out.e).toBeInstanceOf(ChainError);
          expect((out.e as ChainError).code).toMatch(/^RPC_|^CONTRACT_REVERT$/);
        } else expect(typeof out.n).toBe("number");
        fake.mode = forward();
        expect(await client.blockNumber()).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
    provider.destroy();
  });
});
