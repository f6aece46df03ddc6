import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerFor } from "../../../channels/chain/client.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  saveDeployment,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";

let chain: EmbeddedChain;
let dir: string;
let site: Server;
let sitePort: number;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-roles-"));
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  const provider = providerFor(chain.url!);
  const d = await deployContracts(devWallet(0).connect(provider), {
    holders: [1, 2].map((i) => ({ address: devWallet(i).address as Address, amount: 10n ** 21n })),
  });
  await saveDeployment(dir, d);
  (provider as unknown as { destroy(): void }).destroy();
  site = createServer((_req, res) => res.end("x".repeat(16 * 1024)));
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  sitePort = (site.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const c of children) c.kill("SIGINT");
  await new Promise((r) => site.close(r));
  await chain.stop();
  await rm(dir, { recursive: true, force: true });
});

const base = () => ["engine/cli/bin.ts", "--rpc", chain.url!, "--data-dir", dir, "--json"];

/** Starts a long-running role and resolves with the first JSON line it prints. */
function start(args: string[]): Promise<Record<string, string>> {
  const child = spawn(process.execPath, [...base(), ...args]);
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]!));
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
  });
}

function run(args: string[]) {
  return new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(process.execPath, [...base(), ...args], (error, stdout, stderr) =>
      resolve({ code: error ? (error.code as number) : 0, out: stdout, err: stderr }),
    );
  });
}

describe("market, provider and requester as separate processes", () => {
  it("match, accept, open, pay per second through the proxy and settle: on chain equals acknowledged", async () => {
    const market = await start(["market", "--port", "0"]);
    expect(market.credit).toBe("chain");
    const provider = await start([
      "--dev-account",
      "1",
      "provider",
      "--market",
      market.url!,
      "--port",
      "0",
      "--proxy-allow",
      `127.0.0.1/32:${sitePort}`,
    ]);
    expect(provider.relay).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const r = await run([
      "--dev-account",
      "2",
      "requester",
      "--market",
      market.url!,
      "--provider",
      provider.relay!,
      "--target",
      `http://127.0.0.1:${sitePort}/`,
      "--seconds",
      "2",
    ]);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as Record<string, string | number>;
    expect(BigInt(s.paidOnChain!)).toBeGreaterThan(0n);
    expect(s.paidOnChain).toBe(s.paidOffChain);
    expect(s.proofsAcked).toBe(s.proofsSent);
    expect(Number(s.bytes)).toBeGreaterThan(16 * 1024);

    // With the offer taken, a request whose price is too low finds nothing: one clear line.
    const none = await run([
      "--dev-account",
      "2",
      "requester",
      "--market",
      market.url!,
      "--provider",
      provider.relay!,
      "--target",
      `http://127.0.0.1:${sitePort}/`,
      "--max-price",
      "0.0000001",
    ]);
    expect(none.code).not.toBe(0);
    // With --json an error is one JSON line on stderr, with its code.
    const { error } = JSON.parse(none.err) as { error: { code: string; message: string } };
    expect(error.code).toBe("NOT_FOUND");
  });

  it.each([
    [
      ["requester", "--market", "nope", "--provider", "ws://x:1", "--target", "http://x/"],
      "--market",
    ],
    [
      [
        "requester",
        "--market",
        "http://127.0.0.1:9",
        "--provider",
        "ws://x:1",
        "--target",
        "ftp://x/",
      ],
      "--target",
    ],
    [["provider", "--market", "http://127.0.0.1:9", "--price", "cheap"], "--price"],
  ])("%j fails with one line naming the flag", async (args, flag) => {
    const r = await run(["--dev-account", "2", ...(args as string[])]);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(r.err)).toMatchObject({ error: { code: "BAD_FLAG", details: { flag } } });
  });
});
