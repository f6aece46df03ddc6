/**
 * `tollway demo --tunnel wireguard` and `--scenario fastlane`, in-process: the WireGuard demo
 * pays for a real tunnel between two namespaces and settles on the embedded chain to the unit;
 * the fast-lane demo opens a channel with each of three ISP nodes on chain, pays each per second
 * over the relay for its lane, settles on chain, and every hop removes its lane. Both leave
 * no namespace behind.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { runFastlaneDemo } from "../../../engine/demo/fastlane-scenario.ts";
import { demoNetSupport } from "../../../engine/demo/namespaces.ts";
import { runDemo } from "../../../engine/demo/run-demo.ts";
import { describeWhen, netnsSupport } from "../../helpers/netns.ts";

const base = await netnsSupport(["wg", "wireguard-go", "tc", "iperf3"]);
// The WireGuard demo fetches its pages with curl in the requester's namespace.
const support = base.ok ? await demoNetSupport(["curl"]) : base;

const cli = async (args: string[], env: NodeJS.ProcessEnv = process.env) => {
  try {
    const r = await promisify(execFile)(process.execPath, ["engine/cli/bin.ts", ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe("tollway demo --tunnel / --scenario flags", () => {
  it("a bad value is one BAD_FLAG line on stderr and exit 2", async () => {
    for (const args of [
      ["--tunnel", "ipsec"],
      ["--scenario", "movie"],
      ["--scenario", "fastlane", "--tunnel", "wireguard"],
    ]) {
      const r = await cli(["demo", ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("says in one line what is missing when the namespaces or the tools are not there", async () => {
    // Without /usr/bin on PATH, wg, wireguard-go and iperf3 are missing (or, not as root,
    // the check stops at root first).
    const env = { ...process.env, PATH: "/usr/sbin:/sbin" };
    for (const args of [
      ["--tunnel", "wireguard"],
      ["--scenario", "fastlane"],
    ]) {
      const r = await cli(["--json", "demo", ...args], env);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      const { error } = JSON.parse(r.stderr) as { error: { code: string; details: unknown } };
      expect(error.code).toBe("NOT_FOUND");
      const needed = ["linux", "root", "ip netns", "wg", "wireguard-go", "curl", "tc", "iperf3"];
      expect(needed).toContain((error.details as { missing?: unknown }).missing);
      expect(r.stdout).toBe("");
    }
  });
});

async function namespaces(): Promise<string[]> {
  const r = await execa("ip", ["netns", "list"]);
  return String(r.stdout)
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "");
}

describeWhen(support, "demo tunnel scenarios")("demo through real tunnels", () => {
  it("runs the crawl through WireGuard, paid per second and per byte, settled to the unit", async () => {
    const s = await runDemo({ tunnel: "wireguard", seconds: 2, pages: 8 });
    expect(s.sessions.map((x) => x.mode)).toEqual(["second", "byte"]);
    expect(s.proofsSent).toBeGreaterThan(2);
    expect(s.proofsAcked).toBe(s.proofsSent);
    expect(s.bytesCrawled).toBeGreaterThan(8 * 32 * 1024);
    expect(s.paidOffChain).toBeGreaterThan(2n * 10n ** 15n);
    expect(s.paidOnChain).toBe(s.paidOffChain);
    expect(Object.keys(s.gas).sort()).toEqual(["cooperativeClose", "openWithPermit"]);
    expect(s.namespaces.length).toBe(2);
    const left = await namespaces();
    for (const ns of s.namespaces) expect(left).not.toContain(ns);
  });

  it("buys a paid fast lane across three ISPs and removes every lane", async () => {
    const s = await runFastlaneDemo({ seconds: 3 });
    expect(s.outcome).toBe("done");
    expect(s.lanesLeft).toBe(0);
    expect(s.hops.map((h) => h.id)).toEqual(["isp1", "isp2", "isp3"]);
    for (const h of s.hops) {
      // Each hop holds a verified proof for what the requester sent it, a few seconds' worth.
      expect(h.received).toBe(h.paid);
      expect(h.received).toBeGreaterThanOrEqual(3n * h.pricePerSecond);
      expect(h.proofs).toBeGreaterThanOrEqual(2);
      // Its channel was opened on the embedded chain and settled there, to the unit.
      expect(h.channelId).toMatch(/^0x[0-9a-f]{64}$/);
      expect(h.settled).toBe(h.received);
    }
    expect(s.withLane?.callMbps).toBeGreaterThanOrEqual(0.9 * s.guaranteedMbps);
    expect(s.withLane?.callMbps).toBeGreaterThan(s.bestEffort?.callMbps ?? 0);
    expect(s.namespaces.length).toBe(5);
    const left = await namespaces();
    for (const ns of s.namespaces) expect(left).not.toContain(ns);
  });

  it("removes everything it created when interrupted (Ctrl-C)", async () => {
    const abort = new AbortController();
    const wg = runDemo({
      tunnel: "wireguard",
      seconds: 30,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase === "crawling, paying per second" && p.proofsAcked >= 2) abort.abort();
      },
    });
    const s = await wg;
    expect(s.interrupted).toBe(true);
    expect(s.paidOnChain).toBe(s.paidOffChain);
    const stop = new AbortController();
    const fast = runFastlaneDemo({
      seconds: 2,
      signal: stop.signal,
      onPhase: (p) => {
        if (p.startsWith("measuring the call on its lane")) stop.abort();
      },
    });
    const f = await fast;
    expect(f.interrupted).toBe(true);
    expect(f.lanesLeft).toBe(0);
    const left = await namespaces();
    for (const ns of [...s.namespaces, ...f.namespaces]) expect(left).not.toContain(ns);
  });
});
