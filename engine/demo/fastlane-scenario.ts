/**
 * `tollway demo --scenario fastlane`: a video call over a paid fast lane. A requester, three ISP
 * namespaces in a line and a receiver; every ISP's egress link HTB-limited and saturated by a
 * background flow. The call's flow is measured as best effort, then the requester buys a lane at
 * every hop, paid per second with signed balance proofs, and the flow is measured again; at the
 * end every hop removes its lane and the namespaces go.
 */
import { createHash } from "node:crypto";
import type { ChannelDomain, ChannelId } from "../../channels/types.ts";
import { IspNode } from "../../relay/fastlane/isp-node.ts";
import { localHop, type RunningPath, runPath } from "../../relay/fastlane/path-runner.ts";
import { LaneWallet } from "../../relay/fastlane/wallet.ts";
import { createQosDriver, type QosDriver } from "../../relay/tunnel/qos/index.ts";
import {
  buildLine,
  createDemoNet,
  type DemoNet,
  DemoUnsupportedError,
  demoNetSupport,
  type Line,
  measureFlows,
} from "./namespaces.ts";

/** Options of {@link runFastlaneDemo}. */
export interface FastlaneOptions {
  /** How long each measurement (without, then with the lane) runs. */
  readonly seconds?: number;
  /** Stop early (Ctrl-C): the lanes and the namespaces are removed, the summary returned. */
  readonly signal?: AbortSignal;
  /** Called with each phase as it starts. */
  readonly onPhase?: (phase: string) => void;
}

/** What one hop was paid, in token base units. */
export interface FastlaneHopSummary {
  readonly id: string;
  readonly pricePerSecond: bigint;
  /** What the requester sent the hop for this call (cumulative, signed). */
  readonly paid: bigint;
  /** What the hop holds as its latest verified balance proof. */
  readonly received: bigint;
  readonly proofs: number;
}

/** What the fast-lane demo did. Throughput in Mbit/s at the receiver. */
export interface FastlaneSummary {
  readonly linkMbps: number;
  readonly guaranteedMbps: number;
  /** The call's flow and the background flow sharing the links with no lane. */
  readonly bestEffort: { readonly callMbps: number; readonly backgroundMbps: number } | null;
  /** The same with the call's lane at every hop. */
  readonly withLane: { readonly callMbps: number; readonly backgroundMbps: number } | null;
  readonly hops: readonly FastlaneHopSummary[];
  readonly paidTotal: bigint;
  /** How the path ended ("done" after an orderly teardown). */
  readonly outcome: string;
  /** Lanes still installed at any hop after teardown (0 when all went). */
  readonly lanesLeft: number;
  /** The namespaces the demo created (all deleted before it returns). */
  readonly namespaces: readonly string[];
  readonly interrupted: boolean;
  readonly durationMs: number;
}

const LINK_KBIT = 20_000;
const LANE_KBIT = 8_000;
// The call sends at the rate its lane guarantees, as a video encoder would.
const CALL_KBIT = LANE_KBIT;
const TOKEN = 10n ** 18n;
const PRICE_PER_SECOND = TOKEN / 10_000n; // 0.0001 TOLL a second at each hop
const DEPOSIT = TOKEN;
const SESSION = "video-call";
// The lanes' channels are off chain here; their proofs are signed for this domain.
const DOMAIN: ChannelDomain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const demoKey = (label: string) =>
  createHash("sha256").update(`tollway-demo-fastlane:${label}`).digest();

/**
 * Runs the fast-lane scenario and returns its summary; every lane and namespace it created is
 * removed again, also when interrupted.
 * @throws DemoUnsupportedError DEMO_UNSUPPORTED when root, `ip netns`, `tc` or `iperf3` is missing
 * @example const s = await runFastlaneDemo({ seconds: 4 }); console.log(fastlaneTable(s));
 */
export async function runFastlaneDemo(opts: FastlaneOptions = {}): Promise<FastlaneSummary> {
  const started = performance.now();
  const seconds = opts.seconds ?? 4;
  const signal = opts.signal ?? new AbortController().signal;
  const support = await demoNetSupport(["tc", "iperf3"]);
  if (!support.ok) {
    throw new DemoUnsupportedError(`the fast-lane demo needs root: ${support.reason}`);
  }
  const phase = (p: string) => opts.onPhase?.(p);
  let net: DemoNet | undefined;
  const drivers: QosDriver[] = [];
  const nodes: IspNode[] = [];
  let path: RunningPath | undefined;
  let outcome = "not started";
  let bestEffort: FastlaneSummary["bestEffort"] = null;
  let withLane: FastlaneSummary["withLane"] = null;
  let lanesLeft = 0;
  const wallet = new LaneWallet(demoKey("requester"), DOMAIN);
  try {
    phase("creating the requester, three ISPs and the receiver (namespaces, HTB links)");
    net = await createDemoNet();
    const line = await buildLine(net, 3);
    for (const [i, isp] of line.isps.entries()) {
      const driver = await createQosDriver({
        device: isp.egress,
        netns: isp.ns,
        linkRateKbit: LINK_KBIT,
        maxLanesKbit: 18_000,
      });
      drivers.push(driver);
      nodes.push(
        new IspNode({
          id: `isp${i + 1}`,
          driver,
          key: demoKey(`isp${i + 1}`),
          domain: DOMAIN,
          terms: { pricePerSecond: PRICE_PER_SECOND, creditLimit: 2n * PRICE_PER_SECOND },
          maxRateKbit: 16_000,
        }),
      );
    }
    if (!signal.aborted) {
      phase(`measuring the call and a background flow, best effort (${seconds} s)`);
      const m = await measure(net, line, seconds, signal);
      if (m) bestEffort = { callMbps: m.paidMbps, backgroundMbps: m.bestEffortMbps };
    }
    if (!signal.aborted) {
      phase("buying a lane at every hop (quote, channel, lane, pay per second)");
      path = runPath({
        sessionId: SESSION,
        hops: nodes.map((n) => localHop(n, wallet, DEPOSIT)),
        request: {
          flow: { dst: line.receiverIp, protocol: "tcp", dport: 5201 },
          rateKbit: LANE_KBIT,
        },
        maxPricePerSecond: PRICE_PER_SECOND,
      });
      await path.active;
    }
    if (!signal.aborted) {
      phase(`measuring the call on its lane with the background flow (${seconds} s)`);
      const m = await measure(net, line, seconds, signal);
      if (m) withLane = { callMbps: m.paidMbps, backgroundMbps: m.bestEffortMbps };
    }
  } finally {
    phase("removing every hop's lane, then the namespaces");
    if (path) {
      const end = await path.stop().catch((err: unknown) => ({
        outcome: err instanceof Error ? err.message : String(err),
        wasActive: false,
      }));
      outcome = end.outcome;
    }
    lanesLeft = drivers.reduce((n, d) => n + d.lanes().size, 0);
    for (const d of drivers) await d.close().catch(() => undefined);
    await net?.destroy();
  }
  const hops = nodes.map((n, i): FastlaneHopSummary => {
    const h = path?.state().hops[i];
    const ch = h?.channelId ? n.channel(h.channelId as ChannelId) : undefined;
    return {
      id: n.id,
      pricePerSecond: PRICE_PER_SECOND,
      paid: h?.paid ?? 0n,
      received: ch?.received?.proof.transferred ?? 0n,
      proofs: Number(ch?.received?.proof.nonce ?? 0n),
    };
  });
  return {
    linkMbps: LINK_KBIT / 1000,
    guaranteedMbps: LANE_KBIT / 1000,
    bestEffort,
    withLane,
    hops,
    paidTotal: hops.reduce((a, h) => a + h.received, 0n),
    outcome,
    lanesLeft,
    namespaces: net?.namespaces() ?? [],
    interrupted: signal.aborted,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Measures the call and the background flow; null when Ctrl-C cut it short (a terminal's SIGINT
 * reaches iperf3 too, which may exit before the demo's own handler has run).
 */
async function measure(
  net: DemoNet,
  line: Line,
  seconds: number,
  signal: AbortSignal,
): Promise<{ paidMbps: number; bestEffortMbps: number } | null> {
  try {
    return await measureFlows(net, line, seconds, CALL_KBIT);
  } catch (err) {
    await new Promise((r) => setTimeout(r, 200));
    if (signal.aborted) return null;
    throw err;
  }
}
