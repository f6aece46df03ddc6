/**
 * The requester never leaves its deposit locked without saying so: a run with --keep-open leaves
 * the channel open and says so; the next run reuses that channel instead of opening another; a
 * SIGINT in the middle of its session closes the channel (cooperatively, or by starting the
 * window) and the output says which. All roles are real processes on one embedded chain.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainClient, connectChain, providerFor } from "../../../channels/chain/client.ts";
import type { Address, ChannelId } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  saveDeployment,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { eventually, type RunningRole, runOnce, startRole } from "./cli-processes.ts";

let chain: EmbeddedChain;
let dir: string;
let site: Server;
let sitePort: number;
let rpc: ReturnType<typeof providerFor>;
let reader: ChainClient;
let market: RunningRole;
let provider: RunningRole;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-req-"));
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  rpc = providerFor(chain.url!);
  const d = await deployContracts(devWallet(0).connect(rpc), {
    holders: [1, 2].map((i) => ({ address: devWallet(i).address as Address, amount: 10n ** 21n })),
  });
  await saveDeployment(dir, d);
  reader = await connectChain({ signer: devWallet(3).connect(rpc), channels: d.channels });
  site = createServer((_req, res) => res.end("x".repeat(4 * 1024)));
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  sitePort = (site.address() as AddressInfo).port;
  market = await startRole([...base(), "--json", "market", "--port", "0"]);
  provider = await startRole([
    ...base(),
    "--json",
    "--dev-account",
    "1",
    "provider",
    "--market",
    String(market.first.url),
    "--port",
    "0",
    "--proxy-allow",
    `127.0.0.1/32:${sitePort}`,
  ]);
});
afterAll(async () => {
  await provider?.stop();
  await market?.stop();
  await new Promise((r) => site?.close(r));
  rpc?.destroy();
  await chain?.stop();
  await rm(dir, { recursive: true, force: true });
});

const base = () => ["--rpc", chain.url!, "--data-dir", dir];

const requesterArgs = (seconds: number, extra: string[] = []) => [
  ...base(),
  "--dev-account",
  "2",
  "requester",
  "--market",
  String(market.first.url),
  "--provider",
  String(provider.first.relay),
  "--target",
  `http://127.0.0.1:${sitePort}/`,
  "--seconds",
  String(seconds),
  "--window",
  "30",
  ...extra,
];

describe("the requester role", () => {
  it("keeps a channel open when asked, reuses it next run, and closes it on SIGINT saying so", async () => {
    const first = await runOnce([...requesterArgs(1, ["--keep-open"]), "--json"]);
    expect(first.code, first.err).toBe(0);
    const s1 = JSON.parse(first.out) as {
      channelId: ChannelId;
      reused: boolean;
      channel: { status: string; note: string };
    };
    expect(s1.reused).toBe(false);
    expect(s1.channel.status).toBe("open");
    expect(s1.channel.note).toMatch(/stays open with .* TOLL left for the next run/);
    expect((await reader.readChannel(s1.channelId)).status).toBe("open");

    // Second run, human output: it must say which channel it reuses, then SIGINT mid-session.
    const child = spawn(process.execPath, ["engine/cli/bin.ts", ...requesterArgs(60)]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    await eventually("the reuse line", 30_000, () =>
      out.includes(`reusing channel ${s1.channelId}`) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    child.kill("SIGINT");
    const code = await exited;
    expect(code, err).toBe(130);
    expect(out).not.toMatch(/channel 0x[0-9a-f]{64} opened/);
    expect(err).toMatch(/SIGINT: closing the channel before exiting/);
    // The error line (exit 130 is INTERRUPTED's) names the channel; the chain says what became of it.
    expect(err).toMatch(new RegExp(`^tollway: [^\n]*${s1.channelId}[^\n]*$`, "m"));
    const onChain = await reader.readChannel(s1.channelId);
    expect(["none", "closing"]).toContain(onChain.status);
    if (onChain.status === "none")
      expect(out).toMatch(
        new RegExp(`channel ${s1.channelId} closed cooperatively: .* TOLL back to you`),
      );
  });

  it("when the provider dies mid-session, the run fails but starts the close and says so", async () => {
    const opened = () => reader.contract.queryFilter(reader.contract.filters.ChannelOpened!());
    const before = (await opened()).length;
    const child = spawn(process.execPath, ["engine/cli/bin.ts", ...requesterArgs(60), "--json"]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    // With the last channel closed, this run opens a new one: wait for it, then let it pay a while.
    await eventually("a new channel", 30_000, async () =>
      (await opened()).length > before ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    provider.child.kill("SIGKILL");
    const code = await exited;
    expect(code, err).toBe(1);
    const summary = JSON.parse(out.trim().split("\n").at(-1)!) as {
      channelId: ChannelId;
      reused: boolean;
      channel: { status: string; note: string };
    };
    expect(summary.reused).toBe(false);
    expect(summary.channel.status).toBe("closing");
    expect(summary.channel.note).toMatch(/is closing: its settle window ends at/);
    expect((await reader.readChannel(summary.channelId)).status).toBe("closing");
    expect(JSON.parse(err.trim().split("\n").at(-1)!).error.code).toBeTruthy();
  });
});
