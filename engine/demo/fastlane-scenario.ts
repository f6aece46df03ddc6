/**
 * `tollway demo --scenario fastlane`: a video call over a paid fast lane. A requester, three ISP
 * namespaces in a line and a receiver; every ISP's egress link HTB-limited and saturated by a
 * background flow, and every ISP running a fast-lane node (a relay node with the `qos` driver) on
 * loopback. The call's flow is measured as best effort; then the requester asks each node for a
 * quote, opens a channel with each on the embedded chain, has every hop activate its lane and
 * pays each per second over the WebSocket; the flow is measured again. At the end every hop
 * removes its lane, the channels are settled on chain, and the namespaces go.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes, type HDNodeWallet, parseUnits } from "ethers";
import {
  type Address,
  type ChannelId,
  providerFor,
  type SettlementBackend,
  shortMessageOf,
} from "../../channels/index.ts";
import {
  createIspNode,
  createQosDriver,
  FastLaneRequester,
  type IspAccount,
  type IspSettlement,
  type ProviderNode,
  type QosDriver,
  type RunningPath,
  runPath,
} from "../../relay/index.ts";
import { deployContracts } from "../chain/deploy.ts";
import { devWallet } from "../chain/dev-accounts.ts";
import { startEmbeddedChain } from "../chain/embedded.ts";
import { connectPaymentChannels } from "../node/payment-channels.ts";
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
  /** The channel opened with the hop on chain. */
  readonly channelId: ChannelId | null;
  /** What the requester signed to the hop for this call (cumulative). */
  readonly paid: bigint;
  /** What the hop holds as its latest durable, verified balance proof. */
  readonly received: bigint;
  readonly proofs: number;
  /** What the hop received on chain when the channel was settled. */
  readonly settled: bigint;
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
    throw new DemoUnsupportedError(
      `the fast-lane demo needs root: ${support.reason}`,
      support.details,
    );
  }
  const phase = (p: string) => opts.onPhase?.(p);
  let net: DemoNet | undefined;
  const drivers: QosDriver[] = [];
  const nodes: ProviderNode[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  let lanes: FastLaneRequester | undefined;
  let path: RunningPath | undefined;
  let outcome = "not started";
  let bestEffort: FastlaneSummary["bestEffort"] = null;
  let withLane: FastlaneSummary["withLane"] = null;
  let lanesLeft = 0;
  let hops: FastlaneHopSummary[] = [];
  const storeRoot = await mkdtemp(join(tmpdir(), "tollway-fastlane-"));
  stops.push(() => rm(storeRoot, { recursive: true, force: true }));
  try {
    phase("starting the embedded chain and deploying Token and PaymentChannels");
    const chain = await startEmbeddedChain();
    stops.push(() => chain.stop());
    const rpc = providerFor(chain.provider!);
    const [deployer, requester, ...isps] = [0, 1, 2, 3, 4].map((i) =>
      devWallet(i).connect(rpc),
    ) as HDNodeWallet[];
    const deployment = await deployContracts(deployer!, {
      holders: [{ address: requester!.address as Address, amount: parseUnits("1000", 18) }],
      minSettleWindow: 60,
    });
    const connectAs = async (w: HDNodeWallet): Promise<SettlementBackend> =>
      (await connectPaymentChannels({ signer: w, deployment })).settlement;

    phase("creating the requester, three ISPs and the receiver (namespaces, HTB links)");
    net = await createDemoNet();
    const line = await buildLine(net, 3);
    for (const [i, isp] of line.isps.entries()) {
      const driver = await createQosDriver({
        device: isp.egress,
        netns: isp.ns,
        linkRateKbit: LINK_KBIT,
        maxLanesKbit: 16_000,
      });
      drivers.push(driver);
      nodes.push(
        await createIspNode({
          key: getBytes(isps[i]!.privateKey),
          settlement: await connectAs(isps[i]!),
          storeDir: join(storeRoot, `isp${i + 1}`),
          host: "127.0.0.1",
          driver,
          pricePerSecond: PRICE_PER_SECOND,
          creditLimit: 2n * PRICE_PER_SECOND,
        }),
      );
    }
    lanes = new FastLaneRequester({
      key: getBytes(requester!.privateKey),
      settlement: await connectAs(requester!),
      deposit: DEPOSIT,
    });
    if (!signal.aborted) {
      phase(`measuring the call and a background flow, best effort (${seconds} s)`);
      const m = await measure(net, line, seconds, signal);
      if (m) bestEffort = { callMbps: m.paidMbps, backgroundMbps: m.bestEffortMbps };
    }
    if (!signal.aborted) {
      phase("buying a lane at every hop (quote, channel on chain, lane, pay per second)");
      const requesterLanes = lanes;
      path = runPath({
        sessionId: SESSION,
        hops: nodes.map((n, i) => requesterLanes.hop(`isp${i + 1}`, n.url)),
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
    phase("removing every hop's lane, settling the channels on chain, removing the namespaces");
    if (path) {
      const end = await path.stop().catch((err: unknown) => ({
        outcome: shortMessageOf(err),
        wasActive: false,
      }));
      outcome = end.outcome;
    }
    lanesLeft = drivers.reduce((n, d) => n + d.lanes().size, 0);
    if (lanes) {
      const accounts = lanes.accounts();
      // Settling waits for every payment in flight to be durable at its hop.
      const settled = await lanes.settle().catch(() => []);
      hops = hopSummaries(nodes, accounts, settled);
      await lanes.close();
    }
    for (const n of nodes) await n.close().catch(() => undefined);
    for (const d of drivers) await d.close().catch(() => undefined);
    await net?.destroy();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
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

/** Each hop's pay: signed by the requester, held by the node, and settled on chain. */
function hopSummaries(
  nodes: readonly ProviderNode[],
  accounts: readonly IspAccount[],
  settled: readonly IspSettlement[],
): FastlaneHopSummary[] {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  return nodes.map((n, i) => {
    const account = accounts.find((a) => same(a.payee, n.address));
    const channelId = account?.channel.channelId ?? null;
    const proof = channelId === null ? undefined : n.channel(channelId)?.received?.proof;
    return {
      id: `isp${i + 1}`,
      pricePerSecond: PRICE_PER_SECOND,
      channelId,
      paid: account?.signed ?? 0n,
      received: proof?.transferred ?? 0n,
      proofs: Number(proof?.nonce ?? 0n),
      settled: settled.find((x) => same(x.payee, n.address))?.payoutB ?? 0n,
    };
  });
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
