/**
 * The process never dies of an error nothing handled: a serving role logs it with its code and
 * keeps serving; a one-shot command logs one line and exits with 70. Real processes throughout.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { providerFor } from "../../../channels/chain/client.ts";
import type { Address } from "../../../channels/types.ts";
import {
  deployContracts,
  devWallet,
  type EmbeddedChain,
  saveDeployment,
  serveEmbeddedChain,
} from "../../../engine/chain/index.ts";
import { askNode } from "../../../engine/cli/control-client.ts";
import { accountLayout } from "../../../engine/node/layout.ts";
import { eventually, type RunningRole, startRole } from "./cli-processes.ts";

let chain: EmbeddedChain;
let dir: string;
let market: RunningRole;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-guard-"));
  chain = await serveEmbeddedChain("127.0.0.1", 0);
  const rpc = providerFor(chain.url!);
  const d = await deployContracts(devWallet(0).connect(rpc), {
    holders: [1].map((i) => ({ address: devWallet(i).address as Address, amount: 10n ** 21n })),
  });
  await saveDeployment(dir, d);
  rpc.destroy();
  market = await startRole([
    "--rpc",
    chain.url!,
    "--data-dir",
    dir,
    "--json",
    "market",
    "--port",
    "0",
  ]);
});
afterAll(async () => {
  await market?.stop();
  await chain?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("unhandled errors", () => {
  it("a provider survives a rejected promise and an exception raised inside it, and still serves", async () => {
    const provider = await startRole(
      [
        "--rpc",
        chain.url!,
        "--data-dir",
        dir,
        "--json",
        "--dev-account",
        "1",
        "provider",
        "--market",
        String(market.first.url),
        "--port",
        "0",
      ],
      ["--import", "./test/engine/cli/fixtures/misbehave-on-signal.ts"],
    );
    try {
      provider.child.kill("SIGUSR2");
      await eventually("both errors logged", 10_000, () =>
        provider.err().includes("DRIVER_THREW") ? true : undefined,
      );
      // One line each, with its code, saying the role keeps serving.
      expect(provider.err()).toMatch(
        /^tollway: unhandled rejection DRIVER_BROKE: [^\n]+ \(the provider keeps running\)$/m,
      );
      expect(provider.err()).toMatch(
        /^tollway: uncaught exception DRIVER_THREW: [^\n]+ \(the provider keeps running\)$/m,
      );
      expect(provider.err()).not.toContain("    at ");
      expect(provider.child.exitCode).toBeNull();
      // Still serving: the control socket answers and the relay greets a new connection.
      const ping = await askNode(accountLayout(dir, devWallet(1).address as Address).socket, {
        op: "ping",
      });
      expect(ping).toMatchObject({ role: "provider", pid: provider.child.pid });
      const ws = new WebSocket(String(provider.first.relay));
      const hello = await new Promise<Buffer>((resolve, reject) => {
        ws.once("message", (d) => resolve(d as Buffer));
        ws.once("error", reject);
      });
      expect(hello.length).toBeGreaterThan(0);
      ws.close();
    } finally {
      expect(await provider.stop()).toBe(0);
    }
  });

  it("a one-shot command logs the error in one line with its code and exits with 70", async () => {
    const script = [
      'import { installCrashGuard } from "./engine/cli/crash-guard.ts";',
      "installCrashGuard({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }, false);",
      'void Promise.reject(Object.assign(new Error("boom"), { code: "SOMETHING_BROKE" }));',
      "setTimeout(() => {}, 5000);",
    ].join("\n");
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      execFile(process.execPath, ["--input-type=module", "-e", script], (error, _out, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, err: stderr }),
      );
    });
    expect(r.code).toBe(70);
    expect(r.err).toMatch(/^tollway: unhandled rejection SOMETHING_BROKE: [^\n]+\n$/);
  });
});
