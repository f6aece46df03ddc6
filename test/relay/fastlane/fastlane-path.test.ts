/**
 * A paid fast lane across three ISP namespaces, for real: requester → isp1 → isp2 → isp3 →
 * receiver, every ISP's egress link HTB-limited, a background flow saturating them. The path
 * is bought hop by hop with real signed balance proofs; the paid flow is measured with and
 * without its lane; when payment stops every hop removes its lane; teardown runs in reverse;
 * a hop that fails to activate aborts the path with nobody paid.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ChannelDomain } from "../../../channels/types.ts";
import { IspNode } from "../../../relay/fastlane/isp-node.ts";
import { localHop, runPath } from "../../../relay/fastlane/path-runner.ts";
import { LaneWallet } from "../../../relay/fastlane/wallet.ts";
import {
  createQosDriver,
  type LaneStatusEvent,
  type QosDriver,
} from "../../../relay/tunnel/qos/index.ts";
import { createTestNet, describeWhen, netnsSupport, type TestNet } from "../../helpers/netns.ts";
import { buildLine, type Line, measureFlows } from "./line.ts";

const support = await netnsSupport(["tc", "iperf3"]);
const key = (label: string) => createHash("sha256").update(`tollway-fastlane:${label}`).digest();
const domain: ChannelDomain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const LINK_KBIT = 20_000;
const LANE_KBIT = 8_000;

describeWhen(support, "fast-lane namespace tests")("fast lane across three ISP namespaces", () => {
  let net: TestNet;
  let line: Line;
  const drivers: QosDriver[] = [];
  const nodes: IspNode[] = [];
  const events: LaneStatusEvent[][] = [];
  let wallet: LaneWallet;
  const flow = () => ({ dst: line.receiverIp, protocol: "tcp", dport: 5201 });

  beforeAll(async () => {
    net = await createTestNet();
    line = await buildLine(net, 3);
    for (const [i, isp] of line.isps.entries()) {
      const driver = await createQosDriver({
        device: isp.egress,
        netns: isp.ns,
        linkRateKbit: LINK_KBIT,
        // isp2 sells less guaranteed rate than its node quotes: the abort test uses it.
        maxLanesKbit: i === 1 ? 12_000 : 18_000,
      });
      drivers.push(driver);
      const node = new IspNode({
        id: `isp${i + 1}`,
        driver,
        key: key(`isp${i + 1}`),
        domain,
        terms: { pricePerSecond: 10n, creditLimit: 20n },
        maxRateKbit: 16_000,
      });
      const log: LaneStatusEvent[] = [];
      node.on("status", (e) => log.push(e));
      events.push(log);
      nodes.push(node);
    }
    wallet = new LaneWallet(key("requester"), domain);
  });

  afterAll(async () => {
    for (const d of drivers) await d.close().catch(() => undefined);
    await net?.destroy();
  });

  const hops = () => nodes.map((n) => localHop(n, wallet, 1_000_000n));

  it("keeps >= 90% of the guaranteed rate for the paid flow under congestion", async () => {
    const without = await measureFlows(net, line, 4);
    const path = runPath({
      sessionId: "call-1",
      hops: hops(),
      request: { flow: flow(), rateKbit: LANE_KBIT },
      maxPricePerSecond: 10n,
    });
    await path.active;
    for (const d of drivers) expect(d.lanes().has("call-1")).toBe(true);
    const withLane = await measureFlows(net, line, 4);
    console.log(
      `fast lane: paid flow ${withLane.paidMbps.toFixed(2)} Mbit/s with the lane ` +
        `(best effort ${withLane.bestEffortMbps.toFixed(2)}), ${without.paidMbps.toFixed(2)} Mbit/s ` +
        `without (best effort ${without.bestEffortMbps.toFixed(2)}); guaranteed ${LANE_KBIT / 1000}`,
    );
    expect(withLane.paidMbps).toBeGreaterThanOrEqual((0.9 * LANE_KBIT) / 1000);
    expect(without.paidMbps).toBeLessThan((0.9 * LANE_KBIT) / 1000);
    expect(withLane.bestEffortMbps).toBeLessThan(without.bestEffortMbps);
    // Payments flowed to every hop while its lane was up, as verified balance proofs.
    for (const n of nodes) {
      const usage = await drivers[nodes.indexOf(n)]?.readUsage("call-1");
      expect(usage?.packetsIn).toBeGreaterThan(1_000);
    }
    const paid = path.state().hops.map((h) => h.paid);
    for (const p of paid) expect(p).toBeGreaterThanOrEqual(40n);

    // Teardown: hop by hop in reverse.
    const before = events.map((l) => l.length);
    const end = await path.stop();
    expect(end).toEqual({ outcome: "done", wasActive: true });
    const removed = events
      .flatMap((l, i) => l.slice(before[i]).map((e) => ({ ...e, hop: i + 1 })))
      .filter((e) => e.status === "unavailable")
      .sort((a, b) => a.at - b.at);
    expect(removed.map((e) => e.hop)).toEqual([3, 2, 1]);
    for (const d of drivers) expect(d.lanes().size).toBe(0);
  });

  it("removes every hop's lane when the requester stops paying", async () => {
    const path = runPath({
      sessionId: "call-2",
      hops: hops(),
      request: { flow: flow(), rateKbit: LANE_KBIT },
      maxPricePerSecond: 10n,
    });
    await path.active;
    // Channels are reused from the first path.
    expect(wallet.opened).toBe(3);
    await new Promise((r) => setTimeout(r, 1_500));
    const stoppedAt = Date.now();
    path.abandon();
    const deadline = Date.now() + 6_000;
    while (drivers.some((d) => d.lanes().size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const d of drivers) expect(d.lanes().size).toBe(0);
    const expired = events.map((l) =>
      l.find((e) => e.sessionId === "call-2" && e.status === "unavailable"),
    );
    for (const e of expired) expect(e?.reason).toBe("lease-expired");
    // Paid up to ~2.5 s ahead plus 2 s of credit: the lanes go within ~5 s of the last payment.
    for (const e of expired)
      expect((e?.at ?? Number.POSITIVE_INFINITY) - stoppedAt).toBeLessThan(5_000);
  });

  it("aborts the path when a hop fails to activate, with nobody paid", async () => {
    const fresh = new LaneWallet(key("requester-2"), domain);
    const path = runPath({
      sessionId: "call-3",
      hops: nodes.map((n) => localHop(n, fresh, 1_000_000n)),
      // isp2's link has only 12 Mbit/s to guarantee: its activation fails.
      request: { flow: flow(), rateKbit: 14_000 },
      maxPricePerSecond: 10n,
    });
    await expect(path.active).rejects.toThrow(/isp2: lane failed/);
    const end = await path.closed;
    expect(end.wasActive).toBe(false);
    for (const h of path.state().hops) expect(h.paid).toBe(0n);
    for (const n of nodes) {
      for (const id of [...path.state().hops].map((h) => h.channelId)) {
        if (id === null) continue;
        const ch = n.channel(id as never);
        if (ch !== undefined) expect(ch.received).toBeNull();
      }
    }
    for (const d of drivers) expect(d.lanes().size).toBe(0);
  });

  it("refuses a path whose hop quotes over the price limit, before any lane", async () => {
    const path = runPath({
      sessionId: "call-4",
      hops: hops(),
      request: { flow: flow(), rateKbit: LANE_KBIT },
      maxPricePerSecond: 5n,
    });
    const end = await path.closed;
    expect(end.wasActive).toBe(false);
    expect(end.outcome).toMatch(/over the limit/);
    for (const d of drivers) expect(d.lanes().size).toBe(0);
  });
});
