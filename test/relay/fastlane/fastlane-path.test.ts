/**
 * A paid fast lane across three ISP namespaces, for real: requester → isp1 → isp2 → isp3 →
 * receiver, every ISP's egress link HTB-limited, a background flow saturating them. Each ISP
 * runs a relay node with the `qos` driver on its namespace's egress; the requester asks every
 * node for a quote over the WebSocket, opens a channel with each on the in-process chain (the
 * nodes find them there), and pays each hop's session per second once every lane is up. The
 * paid flow is measured with and without its lane; teardown runs in reverse; when payment stops
 * every hop removes its lane; a hop that fails to activate aborts the path with nobody paid.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes } from "ethers";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { connectChain, providerFor } from "../../../channels/chain/client.ts";
import {
  type PaymentChannelsSettlement,
  paymentChannelsSettlement,
} from "../../../channels/settlement/payment-channels/backend.ts";
import type { Address, ChannelId } from "../../../channels/types.ts";
import { createIspNode } from "../../../relay/fastlane/isp-node.ts";
import { FastLaneRequester } from "../../../relay/fastlane/lane-requester.ts";
import {
  type RunningPath,
  type RunPathOptions,
  runPath,
} from "../../../relay/fastlane/path-runner.ts";
import type { ProviderNode, SessionClosedEvent } from "../../../relay/provider/index.ts";
import {
  createQosDriver,
  type LaneStatusEvent,
  type QosDriver,
} from "../../../relay/tunnel/qos/index.ts";
import { deployFixture, type Fixture } from "../../helpers/chain.ts";
import { createTestNet, describeWhen, netnsSupport, type TestNet } from "../../helpers/netns.ts";
import { removeDir, sleep } from "../helpers.ts";
import { buildLine, type Line, measureFlows } from "./line.ts";

const support = await netnsSupport(["tc", "iperf3"]);
const LINK_KBIT = 20_000;
const LANE_KBIT = 8_000;
const PRICE = 10n;
const DEPOSIT = 1_000_000n;

describeWhen(support, "fast-lane namespace tests")("fast lane across three ISP namespaces", () => {
  let f: Fixture;
  let net: TestNet;
  let line: Line;
  let aliceChain: PaymentChannelsSettlement;
  let deployerChain: PaymentChannelsSettlement;
  let lanes: FastLaneRequester;
  const drivers: QosDriver[] = [];
  const nodes: ProviderNode[] = [];
  const dirs: string[] = [];
  const events: LaneStatusEvent[][] = [];
  const closed: SessionClosedEvent[][] = [];
  const flow = () => ({ dst: line.receiverIp, protocol: "tcp", dport: 5201 });
  const hops = (r: FastLaneRequester) => nodes.map((n, i) => r.hop(`isp${i + 1}`, n.url));
  const lanesUp = () => drivers.reduce((n, d) => n + d.lanes().size, 0);
  const running: RunningPath[] = [];
  const start = (opts: RunPathOptions) => {
    const p = runPath(opts);
    running.push(p);
    return p;
  };

  // A failed test leaves no lane behind for the next one.
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop().catch(() => undefined);
    for (const d of drivers) for (const id of d.lanes().keys()) await d.deactivate(id);
  });

  beforeAll(async () => {
    f = await deployFixture();
    const rpc = providerFor(f.connection.provider);
    const channels = (await f.channels.getAddress()) as Address;
    const backend = async (w: typeof f.alice) =>
      paymentChannelsSettlement(await connectChain({ signer: w.connect(rpc), channels }));
    aliceChain = await backend(f.alice);
    deployerChain = await backend(f.deployer);
    net = await createTestNet();
    line = await buildLine(net, 3);
    const ispWallets = [f.bob, f.carol, f.stranger];
    for (const [i, isp] of line.isps.entries()) {
      const driver = await createQosDriver({
        device: isp.egress,
        netns: isp.ns,
        linkRateKbit: LINK_KBIT,
        // isp2 can guarantee less than the others: the abort tests use it.
        maxLanesKbit: i === 1 ? 12_000 : 18_000,
      });
      drivers.push(driver);
      const wallet = ispWallets[i]!;
      const dir = mkdtempSync(join(tmpdir(), "tollway-isp-"));
      dirs.push(dir);
      const node = await createIspNode({
        key: getBytes(wallet.privateKey),
        settlement: await backend(wallet),
        storeDir: dir,
        driver,
        pricePerSecond: PRICE,
        creditLimit: 2n * PRICE,
      });
      const log: LaneStatusEvent[] = [];
      driver.on("status", (e) => log.push(e));
      events.push(log);
      const ends: SessionClosedEvent[] = [];
      node.on("session-closed", (e) => ends.push(e));
      closed.push(ends);
      nodes.push(node);
    }
    lanes = new FastLaneRequester({
      key: getBytes(f.alice.privateKey),
      settlement: aliceChain,
      deposit: DEPOSIT,
    });
  });

  afterAll(async () => {
    await lanes?.close();
    for (const n of nodes) await n.close().catch(() => undefined);
    for (const d of drivers) await d.close().catch(() => undefined);
    await net?.destroy();
    await f?.connection.close();
    for (const d of dirs) removeDir(d);
  });

  it("keeps >= 90% of the guaranteed rate for the paid flow under congestion", async () => {
    const without = await measureFlows(net, line, 4);
    const balanceBefore = await aliceChain.balanceOf(f.alice.address as Address);
    const path = start({
      sessionId: "call-1",
      hops: hops(lanes),
      request: { flow: flow(), rateKbit: LANE_KBIT },
      maxPricePerSecond: PRICE,
    });
    await path.active;
    for (const d of drivers) expect(d.lanes().size).toBe(1);
    const leaseAt = drivers.map((d) => d.leaseOf([...d.lanes().keys()][0]!));
    // One channel per hop, opened on chain with the deposit.
    expect(lanes.opened).toBe(3);
    expect(balanceBefore - (await aliceChain.balanceOf(f.alice.address as Address))).toBe(
      3n * DEPOSIT,
    );
    const withLane = await measureFlows(net, line, 4);
    console.log(
      `fast lane: paid flow ${withLane.paidMbps.toFixed(2)} Mbit/s with the lane ` +
        `(best effort ${withLane.bestEffortMbps.toFixed(2)}), ${without.paidMbps.toFixed(2)} Mbit/s ` +
        `without (best effort ${without.bestEffortMbps.toFixed(2)}); guaranteed ${LANE_KBIT / 1000}`,
    );
    expect(withLane.paidMbps).toBeGreaterThanOrEqual((0.9 * LANE_KBIT) / 1000);
    // Without the lane it shares the link like everyone else: no more than a fair share.
    expect(without.paidMbps).toBeLessThan((0.6 * LINK_KBIT) / 1000);
    expect(without.paidMbps).toBeLessThan(withLane.paidMbps);
    expect(withLane.bestEffortMbps).toBeLessThan(without.bestEffortMbps);
    for (const [i, d] of drivers.entries()) {
      const [sessionId] = [...d.lanes().keys()];
      expect((await d.readUsage(sessionId!)).packetsIn).toBeGreaterThan(1_000);
      // Each lane is a lease that the payments keep extending: about four seconds later now.
      expect(d.leaseOf(sessionId!)! - leaseAt[i]!).toBeGreaterThanOrEqual(3_000);
    }
    // Every hop holds durable, verified proofs for the seconds its lane was up.
    for (const [i, account] of lanes.accounts().entries()) {
      const node = nodes.find((n) => n.address === account.payee)!;
      const held = node.channel(account.channel.channelId as ChannelId)?.received?.proof;
      expect(held?.transferred, `isp${i + 1}`).toBeGreaterThanOrEqual(40n);
    }

    // Teardown: hop by hop in reverse, each confirmed before the next.
    const before = events.map((l) => l.length);
    const end = await path.stop();
    expect(end).toEqual({ code: "STOPPED", hop: null, outcome: "done", wasActive: true });
    const removed = events
      .flatMap((l, i) => l.slice(before[i]).map((e) => ({ ...e, hop: i + 1 })))
      .filter((e) => e.status === "unavailable")
      .sort((a, b) => a.at - b.at);
    expect(removed.map((e) => e.hop)).toEqual([3, 2, 1]);
    expect(lanesUp()).toBe(0);
    for (const ends of closed) expect(ends.at(-1)?.code).toBe("CLOSED_BY_PEER");
  });

  it("removes every hop's lane within the credit window when the requester stops paying", async () => {
    const path = start({
      sessionId: "call-2",
      hops: hops(lanes),
      request: { flow: flow(), rateKbit: LANE_KBIT },
      maxPricePerSecond: PRICE,
    });
    await path.active;
    // The channels of the first call are reused.
    expect(lanes.opened).toBe(3);
    await sleep(1_500);
    const stoppedAt = Date.now();
    path.abandon();
    const deadline = Date.now() + 6_000;
    while (lanesUp() > 0 && Date.now() < deadline) await sleep(50);
    expect(lanesUp()).toBe(0);
    for (const ends of closed) {
      const end = ends.at(-1)!;
      expect(end.code).toBe("CREDIT_EXHAUSTED");
      expect(end.maxUnpaid).toBeLessThanOrEqual(end.creditLimit);
    }
    const gone = events.map((l) => l.findLast((e) => e.status === "unavailable"));
    // Paid a second ahead plus two seconds of credit: the lanes go within ~3 s of the last payment.
    for (const e of gone)
      expect((e?.at ?? Number.POSITIVE_INFINITY) - stoppedAt).toBeLessThan(4_000);
  });

  it("aborts a path whose hop fails to activate, with nobody paid", async () => {
    // A fresh requester: its channels are opened on chain between the quotes and the lanes. In
    // that gap another customer's lane takes isp2's guaranteed rate, so isp2 cannot activate.
    const other = new FastLaneRequester({
      key: getBytes(f.deployer.privateKey),
      settlement: deployerChain,
      deposit: DEPOSIT,
    });
    const seen = closed.map((ends) => ends.length);
    try {
      const path = start({
        sessionId: "call-3",
        hops: hops(other),
        request: { flow: flow(), rateKbit: LANE_KBIT },
        maxPricePerSecond: PRICE,
      });
      while (path.state().phase === "quoting") await new Promise((r) => setImmediate(r));
      expect(path.state().phase).toBe("funding");
      await drivers[1]!.activate({
        sessionId: "another-customer",
        kind: "qos",
        params: { dst: line.receiverIp, protocol: "udp", dport: 9, rateKbit: 6_000 },
      });
      const t0 = Date.now();
      await expect(path.active).rejects.toMatchObject({
        code: "LANE_FAILED",
        details: { hop: "isp2" },
      });
      // The node's refusal reaches the path at once, not at a timeout.
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect((await path.closed).wasActive).toBe(false);
      await drivers[1]!.deactivate("another-customer");
      expect(lanesUp()).toBe(0);
      // Nobody was paid: no proof signed, and every session the path had at a hop closed with
      // nothing paid (a lane that came up ran on credit for a moment at most).
      for (const a of other.accounts()) expect(a.signed).toBe(0n);
      const sessions = closed.flatMap((ends, i) => ends.slice(seen[i]));
      expect(sessions.length).toBeGreaterThanOrEqual(1);
      for (const e of sessions) {
        expect(e.requester.toLowerCase()).toBe(f.deployer.address.toLowerCase());
        expect(e.paid).toBe(0n);
        expect(e.owed - e.paid).toBeLessThanOrEqual(e.creditLimit);
      }
    } finally {
      await other.close();
    }
  });

  it("refuses a path, before any channel or lane, when a hop quotes over the limit or refuses", async () => {
    const opened = lanes.opened;
    const pricey = start({
      sessionId: "call-4",
      hops: hops(lanes),
      request: { flow: flow(), rateKbit: LANE_KBIT },
      maxPricePerSecond: PRICE - 1n,
    });
    const end = await pricey.closed;
    expect(end.wasActive).toBe(false);
    expect(end).toMatchObject({ code: "PRICE_TOO_HIGH" });
    // isp2 cannot guarantee 14 Mbit/s at all: it refuses the quote.
    const wide = start({
      sessionId: "call-5",
      hops: hops(lanes),
      request: { flow: flow(), rateKbit: 14_000 },
      maxPricePerSecond: PRICE,
    });
    await expect(wide.active).rejects.toMatchObject({
      code: "QUOTE_REFUSED",
      details: { hop: "isp2" },
    });
    expect((await wide.closed).wasActive).toBe(false);
    expect(lanes.opened).toBe(opened);
    expect(lanesUp()).toBe(0);
  });
});
