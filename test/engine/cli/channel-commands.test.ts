import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encryptKeystoreJson } from "ethers";
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
let channels: Address;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-cli-"));
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  const provider = providerFor(chain.url!);
  const d = await deployContracts(devWallet(0).connect(provider), {
    holders: [1, 2].map((i) => ({ address: devWallet(i).address as Address, amount: 10n ** 24n })),
    minSettleWindow: 1,
  });
  channels = d.channels;
  await saveDeployment(dir, d);
  (provider as { destroy(): void }).destroy();
});
afterAll(async () => {
  await chain.stop();
  await rm(dir, { recursive: true, force: true });
});

function tollway(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(
      process.execPath,
      ["engine/cli/bin.ts", "--rpc", chain.url!, "--data-dir", dir, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, out: stdout, err: stderr }),
    );
  });
}

const B = devWallet(2).address;

/** The one JSON error line a failed `--json` run prints, parsed; it holds no line break itself. */
function jsonError(r: { err: string }): { code: string; message: string; details?: unknown } {
  const lines = r.err.trim().split("\n");
  expect(lines).toHaveLength(1);
  const { error } = JSON.parse(lines[0]!) as {
    error: { code: string; message: string; details?: unknown };
  };
  expect(error.message).not.toContain("\n");
  return error;
}

describe("tollway channel", () => {
  it("opens, lists, tops up, closes and settles", async () => {
    const opened = await tollway([
      "--dev-account",
      "1",
      "--json",
      "channel",
      "open",
      "--partner",
      B,
      "--amount",
      "3.5",
      "--window",
      "10",
    ]);
    expect(opened.code, opened.err).toBe(0);
    const { channelId } = JSON.parse(opened.out) as { channelId: string };
    const top = await tollway([
      "--dev-account",
      "2",
      "--json",
      "channel",
      "topup",
      channelId,
      "--amount",
      "1",
    ]);
    expect(JSON.parse(top.out)).toMatchObject({ side: "b" });
    const list = JSON.parse(
      (await tollway(["--dev-account", "1", "--json", "channel", "list"])).out,
    );
    expect(list.channels).toContainEqual(
      expect.objectContaining({ channelId, status: "open", depositA: "3.5", depositB: "1.0" }),
    );
    expect((await tollway(["--dev-account", "2", "channel", "close", channelId])).code).toBe(0);
    const early = await tollway(["--dev-account", "2", "--json", "channel", "settle", channelId]);
    expect(early.code).toBe(1);
    expect(jsonError(early)).toMatchObject({
      code: "CONTRACT_REVERT",
      details: { errorName: "SettleWindowRunning" },
    });
    // Move the chain's clock past the window instead of waiting for it.
    const rpc = providerFor(chain.url!) as unknown as {
      send(m: string, p: unknown[]): Promise<unknown>;
      destroy(): void;
    };
    await rpc.send("evm_increaseTime", [3600]);
    await rpc.send("evm_mine", []);
    rpc.destroy();
    const settled = await tollway(["--dev-account", "2", "channel", "settle", channelId]);
    expect(settled.code, settled.err).toBe(0);
  });

  it("runs the dispute watcher once", async () => {
    const r = await tollway(["--dev-account", "2", "--json", "channel", "dispute", "--once"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toHaveProperty("cursor");
  });

  it("signs with a key from the environment or an encrypted keystore", async () => {
    const key = devWallet(1).privateKey;
    expect((await tollway(["channel", "list"], { TOLLWAY_KEY: key })).code).toBe(0);
    const file = join(dir, "keystore.json");
    const w = devWallet(1);
    const json = await encryptKeystoreJson({ address: w.address, privateKey: w.privateKey }, "pw", {
      scrypt: { N: 1024 },
    });
    await writeFile(file, json);
    expect(
      (await tollway(["--keystore", file, "channel", "list"], { TOLLWAY_KEYSTORE_PASSWORD: "pw" }))
        .code,
    ).toBe(0);
    const wrong = await tollway(["--json", "--keystore", file, "channel", "list"], {
      TOLLWAY_KEYSTORE_PASSWORD: "nope",
    });
    expect(jsonError(wrong).code).toBe("BAD_KEYSTORE");
    const badKey = await tollway(["--json", "channel", "list"], { TOLLWAY_KEY: "0x1234" });
    expect(jsonError(badKey).code).toBe("NO_KEY");
    // The key itself is never echoed.
    expect(badKey.err).not.toContain("0x1234");
  });

  it.each([
    [["--bogus"], { code: "BAD_FLAG" }],
    [
      ["--dev-account", "1", "channel", "open", "--partner", "nope", "--amount", "1"],
      { code: "BAD_FLAG", details: { flag: "--partner" } },
    ],
    [
      ["--dev-account", "1", "channel", "open", "--partner", B, "--amount", "-1"],
      { code: "BAD_FLAG", details: { flag: "--amount" } },
    ],
    [
      ["--dev-account", "1", "channel", "topup", "0x12", "--amount", "1"],
      { code: "BAD_FLAG", details: { argument: "channelId" } },
    ],
    [
      ["--dev-account", "1", "--rpc", "http://127.0.0.1:9", "channel", "list"],
      { code: "RPC_UNREACHABLE", details: { url: "http://127.0.0.1:9" } },
    ],
    [
      ["--dev-account", "1", "--chain-id", "5", "channel", "list"],
      { code: "WRONG_CHAIN", details: { chainId: "31337", expectedChainId: "5" } },
    ],
    [
      ["--dev-account", "1", "--channels", B, "channel", "list"],
      { code: "NO_CONTRACT", details: { address: B } },
    ],
    [
      ["--dev-account", "3", "channel", "open", "--partner", B, "--amount", "1"],
      { code: "INSUFFICIENT_BALANCE", details: { balance: "0", amount: String(10n ** 18n) } },
    ],
    [
      ["--dev-account", "1", "channel", "open", "--partner", B, "--amount", "1", "--no-permit"],
      { code: "INSUFFICIENT_ALLOWANCE", details: { allowance: "0", amount: String(10n ** 18n) } },
    ],
    [["channel", "list"], { code: "NO_KEY" }],
    [
      ["--dev-account", "1", "--data-dir", "/nonexistent-tollway", "channel", "list"],
      { code: "NO_DEPLOYMENT" },
    ],
    [
      ["--dev-account", "1", "channel", "topup", `0x${"ab".repeat(32)}`, "--amount", "1"],
      { code: "NOT_FOUND", details: { channelId: `0x${"ab".repeat(32)}` } },
    ],
  ])("%j fails with one clear line and a non-zero exit", async (args, expected) => {
    const human = await tollway(args as string[]);
    expect(human.code).not.toBe(0);
    expect(human.err).toMatch(/^[^\n]+\n$/);
    const r = await tollway(["--json", ...(args as string[])]);
    expect(r.code).toBe(human.code);
    expect(jsonError(r)).toMatchObject(expected);
  });

  it("prints a stack trace only with --verbose", async () => {
    const r = await tollway([
      "--verbose",
      "--dev-account",
      "1",
      "--chain-id",
      "5",
      "channel",
      "list",
    ]);
    expect(r.err.split("\n").length).toBeGreaterThan(3);
    expect(r.err).toContain("at ");
  });
});

describe("tollway chain", () => {
  it("serves a chain, deploys, saves the addresses, and stops on SIGINT", async () => {
    const child = spawn(process.execPath, [
      "engine/cli/bin.ts",
      "--json",
      "--data-dir",
      dir,
      "chain",
      "--port",
      "0",
      "--accounts",
      "2",
    ]);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    while (!out.includes("\n")) await new Promise((r) => setTimeout(r, 100));
    const summary = JSON.parse(out) as { rpc: string; channels: string; devAccounts: unknown[] };
    expect(summary.rpc).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(summary.devAccounts).toHaveLength(2);
    const code = new Promise((r) => child.on("exit", r));
    child.kill("SIGINT");
    expect(await code).toBe(0);
    void channels;
  });
});
