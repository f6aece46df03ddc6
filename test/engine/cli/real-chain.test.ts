/**
 * The CLI as a process against chains as users run them: `tollway chain --block-time 1` (a
 * block every second, none on a transaction alone, as on a public chain) and the default one
 * that mines on each transaction; and against an RPC that hangs or answers garbage.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonRpcProvider } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerFor } from "../../../channels/chain/index.ts";
import { devWallet } from "../../../engine/chain/index.ts";
import { intFlag } from "../../../engine/cli/commands/chain.ts";
import { CliError } from "../../../engine/cli/errors.ts";
import { startFakeRpc, startSilentTcp } from "../../channels/chain/fake-rpc.ts";

function tollway(args: string[]) {
  return new Promise<{ code: number; out: string; err: string; ms: number }>((resolve) => {
    const t0 = performance.now();
    execFile(process.execPath, ["engine/cli/bin.ts", ...args], (error, stdout, stderr) =>
      resolve({
        code: error ? (error.code as number) : 0,
        out: stdout,
        err: stderr,
        ms: performance.now() - t0,
      }),
    );
  });
}

/** `tollway chain` as a child process; resolves with its JSON summary once it is serving. */
async function startChainProcess(dataDir: string, extra: string[]) {
  const child = spawn(process.execPath, [
    "engine/cli/bin.ts",
    "--json",
    "--data-dir",
    dataDir,
    "chain",
    "--port",
    "0",
    "--accounts",
    "2",
    ...extra,
  ]);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const deadline = Date.now() + 90_000;
  while (!out.includes("\n")) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`tollway chain did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const summary = JSON.parse(out) as { rpc: string; blockTimeSeconds: number };
  return { child, summary, exited };
}

async function stopChainProcess(p: { child: ChildProcess; exited: Promise<number | null> }) {
  p.child.kill("SIGINT");
  return p.exited;
}

const A = devWallet(1).address;
const B = devWallet(2).address;

describe.each([
  ["mines every second (--block-time 1)", ["--block-time", "1"], 1],
  ["mines on each transaction (default)", [], 0],
])("tollway channel on a chain that %s", (_name, flags, blockTime) => {
  let dir: string;
  let chain: Awaited<ReturnType<typeof startChainProcess>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollway-real-chain-"));
    chain = await startChainProcess(dir, flags);
  });
  afterAll(async () => {
    expect(await stopChainProcess(chain)).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  const run = (account: number, args: string[]) =>
    tollway([
      "--rpc",
      chain.summary.rpc,
      "--data-dir",
      dir,
      "--dev-account",
      String(account),
      "--json",
      ...args,
    ]);

  it("opens, tops up, closes and settles, each command exiting 0 with its result and nothing on stderr", async () => {
    expect(chain.summary.blockTimeSeconds).toBe(blockTime);
    const opened = await run(1, [
      "channel",
      "open",
      "--partner",
      B,
      "--amount",
      "3.5",
      "--window",
      "10",
    ]);
    expect(opened.err).toBe("");
    expect(opened.code).toBe(0);
    const o = JSON.parse(opened.out) as { channelId: string; a: string; b: string; tx: string };
    expect(o).toMatchObject({ a: A, b: B });
    expect(o.tx).toMatch(/^0x[0-9a-f]{64}$/);

    const top = await run(2, ["channel", "topup", o.channelId, "--amount", "1"]);
    expect(top.err).toBe("");
    expect(top.code).toBe(0);
    expect(JSON.parse(top.out)).toMatchObject({ channelId: o.channelId, side: "b" });

    const listed = JSON.parse((await run(1, ["channel", "list"])).out) as {
      channels: unknown[];
    };
    expect(listed.channels).toContainEqual(
      expect.objectContaining({ channelId: o.channelId, depositA: "3.5", depositB: "1.0" }),
    );

    const closed = await run(2, ["channel", "close", o.channelId]);
    expect(closed.err).toBe("");
    expect(closed.code).toBe(0);
    const c = JSON.parse(closed.out) as { finalizesAt: string; withProof: unknown };
    expect(c.withProof).toBeNull();
    expect(Date.parse(c.finalizesAt)).toBeGreaterThan(Date.now());

    const early = await run(2, ["channel", "settle", o.channelId]);
    expect(early.code).toBe(1);
    // With --json an error is one JSON line: the code, the message a person would read, and the
    // details that explain it (here the contract's error and when the window ends).
    const refused = JSON.parse(early.err) as {
      error: { code: string; message: string; details: { errorArgs: string[] } };
    };
    expect(refused.error).toMatchObject({
      code: "CONTRACT_REVERT",
      details: { errorName: "SettleWindowRunning" },
    });
    expect(Number(refused.error.details.errorArgs[0]) * 1000).toBe(Date.parse(c.finalizesAt));

    // Move the chain's clock past the window instead of waiting for it.
    const rpc = providerFor(chain.summary.rpc) as JsonRpcProvider;
    await rpc.send("evm_increaseTime", [60]);
    await rpc.send("evm_mine", []);
    rpc.destroy();

    const settled = await run(2, ["channel", "settle", o.channelId]);
    expect(settled.err).toBe("");
    expect(settled.code).toBe(0);
    expect(JSON.parse(settled.out)).toMatchObject({ channelId: o.channelId });
    const after = JSON.parse((await run(1, ["channel", "list"])).out) as { channels: unknown[] };
    expect(after.channels).toEqual([]);
  }, 120_000);
});

describe("tollway against an RPC that hangs or answers garbage", () => {
  it("a node that never answers: one line naming the URL, a non-zero exit, within the bound", async () => {
    const silent = await startSilentTcp();
    try {
      const r = await tollway([
        "--json",
        "--rpc",
        silent.url,
        "--dev-account",
        "1",
        "channel",
        "list",
      ]);
      expect(r.code).toBe(1);
      expect(r.out).toBe("");
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(JSON.parse(r.err).error).toMatchObject({
        code: "RPC_TIMEOUT",
        details: { url: silent.url, method: "eth_chainId", timeoutMs: 5000 },
      });
      // Two tries of 5 s (before: ethers' own 5-minute fetch timeout, retried: 12 minutes).
      expect(r.ms).toBeLessThan(40_000);
    } finally {
      await silent.close();
    }
  }, 60_000);

  it("a node that answers garbage: one line naming the URL, at once", async () => {
    const fake = await startFakeRpc({
      kind: "answer",
      answer: () => ({ headers: { "content-type": "text/html" }, body: "<h1>It works!</h1>" }),
    });
    try {
      const r = await tollway([
        "--json",
        "--rpc",
        fake.url,
        "--dev-account",
        "1",
        "channel",
        "list",
      ]);
      expect(r.code).toBe(1);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(JSON.parse(r.err).error).toMatchObject({
        code: "RPC_BAD_RESPONSE",
        details: { url: fake.url },
      });
    } finally {
      await fake.close();
    }
  });
});

describe("tollway chain --block-time", () => {
  it.each([["-1"], ["1.5"], ["3601"], ["two"], [""]])(
    "refuses %j with one line and exit 2",
    async (raw) => {
      const r = await tollway(["--json", "chain", "--port", "0", "--block-time", raw]);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(JSON.parse(r.err).error).toMatchObject({
        code: "BAD_FLAG",
        details: { flag: "--block-time" },
      });
    },
  );

  it("fuzz: any flag value is a whole number in range or a BAD_FLAG, never anything else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "binary" }),
          fc.integer().map(String),
          fc.double().map(String),
          fc.constantFrom("__proto__", "toString", "0x10", "1e3", " 1", "1 ", "０", "Infinity"),
          fc.nat().map((n) => "9".repeat((n % 400) + 1)),
        ),
        (raw) => {
          try {
            const n = intFlag("--block-time", raw, 0, 3600);
            expect(Number.isInteger(n) && n >= 0 && n <= 3600).toBe(true);
            expect(raw).toMatch(/^\d+$/);
          } catch (err) {
            expect(err).toBeInstanceOf(CliError);
            expect((err as CliError).code).toBe("BAD_FLAG");
          }
        },
      ),
    );
  });
});
