/**
 * A line of namespaces for the fast-lane tests and bench: requester → isp1 … ispN → receiver,
 * routed, with IP forwarding on the ISPs; and throughput of a paid and a best-effort flow
 * measured together with iperf3.
 */
import type { TestNet } from "../../helpers/netns.ts";

/** One ISP of the line: its namespace and the egress interface towards the receiver. */
export interface LineIsp {
  readonly ns: string;
  readonly egress: string;
}

/** The line. */
export interface Line {
  readonly requester: string;
  readonly receiver: string;
  readonly receiverIp: string;
  readonly isps: readonly LineIsp[];
}

/** Builds the line (subnets 10.90.<i>.0/30). */
export async function buildLine(net: TestNet, ispCount: number): Promise<Line> {
  const requester = await net.host("req");
  const isps: string[] = [];
  for (let i = 1; i <= ispCount; i++) isps.push(await net.host(`isp${i}`));
  const receiver = await net.host("rcv");
  const chain = [requester, ...isps, receiver];
  const egress: string[] = [];
  for (let i = 0; i + 1 < chain.length; i++) {
    const l = await net.link(chain[i] ?? "", chain[i + 1] ?? "", `10.90.${i}`);
    egress.push(l.a.dev);
  }
  for (const ns of isps) await net.exec(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  // Every host routes what is not on its own links forward (to the receiver) or back.
  for (let i = 0; i < chain.length; i++) {
    const ns = chain[i] ?? "";
    for (let j = 0; j + 1 < chain.length; j++) {
      if (j === i || j === i - 1) continue;
      const via = j > i ? `10.90.${i}.2` : `10.90.${i - 1}.1`;
      await net.exec(ns, ["ip", "route", "add", `10.90.${j}.0/30`, "via", via]);
    }
  }
  return {
    requester,
    receiver,
    receiverIp: `10.90.${chain.length - 2}.2`,
    isps: isps.map((ns, i) => ({ ns, egress: egress[i + 1] ?? "" })),
  };
}

interface IperfResult {
  end?: { sum_received?: { bits_per_second?: number } };
}

/**
 * Runs the paid flow (TCP to port 5201) and a best-effort flow (4 TCP streams to 5202)
 * together for `seconds`; returns what each got, Mbit/s at the receiver.
 */
export async function measureFlows(
  net: TestNet,
  line: Line,
  seconds: number,
): Promise<{ paidMbps: number; bestEffortMbps: number }> {
  const servers = [5201, 5202].map((p) =>
    net.spawn(line.receiver, ["iperf3", "-s", "-1", "-p", String(p)]),
  );
  await new Promise((r) => setTimeout(r, 300));
  const client = (port: number, streams: number) =>
    net.exec(line.requester, [
      "iperf3",
      "-c",
      line.receiverIp,
      "-p",
      String(port),
      "-t",
      String(seconds),
      "-P",
      String(streams),
      "-J",
    ]);
  const [paid, be] = await Promise.all([client(5201, 1), client(5202, 4)]);
  await Promise.allSettled(servers);
  const mbps = (out: string) =>
    ((JSON.parse(out) as IperfResult).end?.sum_received?.bits_per_second ?? 0) / 1e6;
  return { paidMbps: mbps(paid), bestEffortMbps: mbps(be) };
}
