/**
 * The demo's network: Linux network namespaces joined by veth pairs, for `tollway demo --tunnel
 * wireguard` and `--scenario fastlane` (the product twin of test/helpers/netns.ts). Every name carries a random 4-hex id (`tw<id>…`); a pid file under
 * /tmp/tollway-netns marks the owner, so a later run removes what a crashed run left behind
 * without touching a run that is still alive. Nothing here touches the root namespace's
 * interfaces or routes.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { type ErrorDetails, type Result, reject, TollwayError } from "../../channels/index.ts";

const OWNERS = "/tmp/tollway-netns";

/** A tool a demo needs. */
export type DemoTool = "wg" | "wireguard-go" | "tc" | "iperf3" | "curl";

/** A demo that cannot run on this machine (not root, no `ip netns`, a tool missing). */
export class DemoUnsupportedError extends TollwayError<"DEMO_UNSUPPORTED"> {
  /**
   * @param reason - what is missing, one line
   * @param details - `missing`: what is (as `demoNetSupport` says)
   */
  constructor(reason: string, details?: ErrorDetails) {
    super("DEMO_UNSUPPORTED", reason, { details });
    this.name = "DemoUnsupportedError";
  }
}

/**
 * `{ ok: true }`, or why the namespace demos cannot run here: DEMO_UNSUPPORTED, with what is
 * missing in `details.missing` (`linux`, `root`, `ip netns`, or the tool's name).
 */
export type DemoNetSupport = Result<undefined, "DEMO_UNSUPPORTED">;

const SUPPORTED: DemoNetSupport = { ok: true, value: undefined };

function missing(what: string, reason: string): DemoNetSupport {
  return reject("DEMO_UNSUPPORTED", reason, { missing: what });
}

async function works(file: string, args: string[]): Promise<boolean> {
  const r = await execa(file, args, { reject: false, timeout: 5_000 });
  return !r.failed;
}

/** Checks root, `ip netns`, and the given tools. */
export async function demoNetSupport(tools: readonly DemoTool[]): Promise<DemoNetSupport> {
  if (process.platform !== "linux") return missing("linux", "not Linux");
  if (process.getuid?.() !== 0) return missing("root", "not root");
  if (!(await works("ip", ["netns", "list"]))) return missing("ip netns", "no `ip netns`");
  const probes: Record<DemoTool, string[]> = {
    wg: ["wg", "--version"],
    "wireguard-go": ["wireguard-go", "--version"],
    tc: ["tc", "-V"],
    iperf3: ["iperf3", "--version"],
    curl: ["curl", "--version"],
  };
  for (const t of tools) {
    const [file, ...args] = probes[t];
    if (!(await works(file ?? t, args))) return missing(t, `\`${t}\` is missing`);
  }
  return SUPPORTED;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function deleteNamespace(ns: string): Promise<void> {
  // Delete links first: a wireguard-go daemon exits when its device goes.
  const r = await execa("ip", ["-n", ns, "-o", "link", "show"], { reject: false });
  const out = typeof r.stdout === "string" ? r.stdout : "";
  for (const line of out.split("\n")) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name !== undefined && name !== "lo") {
      await execa("ip", ["-n", ns, "link", "del", name], { reject: false });
    }
  }
  await execa("ip", ["netns", "del", ns], { reject: false });
}

/** Removes namespaces (and their pid files) of earlier runs whose process is gone. */
export async function cleanupStaleNamespaces(): Promise<string[]> {
  mkdirSync(OWNERS, { recursive: true });
  const owners = new Map<string, number>();
  for (const f of readdirSync(OWNERS)) {
    const pid = Number(readFileSync(join(OWNERS, f), "utf8"));
    owners.set(f, pid);
  }
  const r = await execa("ip", ["netns", "list"], { reject: false });
  const out = typeof r.stdout === "string" ? r.stdout : "";
  const removed: string[] = [];
  for (const line of out.split("\n")) {
    const ns = line.split(" ")[0] ?? "";
    const id = /^tw([0-9a-f]{4})/.exec(ns)?.[1];
    if (id === undefined || !owners.has(id)) continue;
    if (alive(owners.get(id) ?? 0)) continue;
    await deleteNamespace(ns);
    removed.push(ns);
  }
  for (const [id, pid] of owners) if (!alive(pid)) rmSync(join(OWNERS, id), { force: true });
  return removed;
}

/** One end of a link: the namespace and the interface's address. */
export interface LinkEnd {
  readonly ns: string;
  readonly dev: string;
  readonly ip: string;
}

/** The demo's network. */
export interface DemoNet {
  /** The run's id: every name starts with `tw<id>`. */
  readonly id: string;
  /** Creates namespace `tw<id><name>` with `lo` up; returns its name. */
  host(name: string): Promise<string>;
  /**
   * Joins two namespaces with a veth pair on a /30 (`10.<a>.<b>.1` and `.2`), optionally with
   * routes to further subnets through each side.
   */
  link(a: string, b: string, subnet: string): Promise<{ a: LinkEnd; b: LinkEnd }>;
  /** Runs a command in a namespace. */
  exec(ns: string, argv: readonly string[]): Promise<string>;
  /** Starts a long-running command in a namespace (killed by `destroy`). */
  spawn(ns: string, argv: readonly string[]): ResultPromise;
  /** A fresh interface name of this run (at most 15 characters). */
  ifname(suffix: string): string;
  /** The namespaces created so far. */
  namespaces(): readonly string[];
  /** Kills spawned processes, deletes every namespace of the run (idempotent). */
  destroy(): Promise<void>;
}

/**
 * Creates an empty demo network after removing stale ones.
 * @example
 * const net = await createDemoNet();
 * try { const a = await net.host("a"); … } finally { await net.destroy(); }
 */
export async function createDemoNet(): Promise<DemoNet> {
  await cleanupStaleNamespaces();
  const id = randomBytes(2).toString("hex");
  writeFileSync(join(OWNERS, id), String(process.pid));
  const hosts: string[] = [];
  const children = new Set<ResultPromise>();
  let links = 0;
  let destroyed = false;
  const net: DemoNet = {
    id,
    async host(name) {
      const ns = `tw${id}${name}`;
      await execa("ip", ["netns", "add", ns]);
      hosts.push(ns);
      await execa("ip", ["-n", ns, "link", "set", "lo", "up"]);
      return ns;
    },
    async link(a, b, subnet) {
      const n = links++;
      const devA = `tw${id}v${n}a`;
      const devB = `tw${id}v${n}b`;
      await execa("ip", [
        "-n",
        a,
        "link",
        "add",
        devA,
        "type",
        "veth",
        "peer",
        "name",
        devB,
        "netns",
        b,
      ]);
      const ipA = `${subnet}.1`;
      const ipB = `${subnet}.2`;
      await execa("ip", ["-n", a, "addr", "add", `${ipA}/30`, "dev", devA]);
      await execa("ip", ["-n", b, "addr", "add", `${ipB}/30`, "dev", devB]);
      await execa("ip", ["-n", a, "link", "set", devA, "up"]);
      await execa("ip", ["-n", b, "link", "set", devB, "up"]);
      return { a: { ns: a, dev: devA, ip: ipA }, b: { ns: b, dev: devB, ip: ipB } };
    },
    async exec(ns, argv) {
      const r = await execa("ip", ["netns", "exec", ns, ...argv]);
      return typeof r.stdout === "string" ? r.stdout : "";
    },
    spawn(ns, argv) {
      const child = execa("ip", ["netns", "exec", ns, ...argv], { reject: false });
      children.add(child);
      void child.finally(() => children.delete(child));
      return child;
    },
    ifname(suffix) {
      return `tw${id}${suffix}`.slice(0, 15);
    },
    namespaces() {
      return [...hosts];
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const c of children) c.kill("SIGKILL");
      await Promise.allSettled([...children]);
      for (const ns of hosts.reverse()) await deleteNamespace(ns);
      rmSync(join(OWNERS, id), { force: true });
    },
  };
  return net;
}

/** One ISP of a line: its namespace and the egress interface towards the receiver. */
export interface LineIsp {
  readonly ns: string;
  readonly egress: string;
}

/** A line of namespaces: requester → isp1 … ispN → receiver. */
export interface Line {
  readonly requester: string;
  readonly receiver: string;
  readonly receiverIp: string;
  readonly isps: readonly LineIsp[];
}

/** Builds a routed line (subnets 10.90.<i>.0/30) with IP forwarding on the ISPs. */
export async function buildLine(net: DemoNet, ispCount: number): Promise<Line> {
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
  error?: string;
}

/** Runs an iperf3 client; a failure is one short line (iperf3's own error), not its JSON. */
async function iperf(net: DemoNet, ns: string, argv: readonly string[]): Promise<string> {
  try {
    return await net.exec(ns, ["iperf3", ...argv]);
  } catch (err) {
    const out = String((err as { stdout?: unknown }).stdout ?? "");
    let why = "no result";
    try {
      why = (JSON.parse(out) as IperfResult).error ?? why;
    } catch (parse) {
      why = parse instanceof Error ? `unreadable output (${parse.message})` : why;
    }
    throw new Error(`iperf3 failed in ${ns}: ${why}`, { cause: err });
  }
}

/**
 * Runs the paid flow (TCP to port 5201, at most `paidKbit` when given, like a call's encoder)
 * and a best-effort flow (4 TCP streams to 5202) together for `seconds` with iperf3; returns
 * what each got, Mbit/s at the receiver.
 */
export async function measureFlows(
  net: DemoNet,
  line: Line,
  seconds: number,
  paidKbit?: number,
): Promise<{ paidMbps: number; bestEffortMbps: number }> {
  const servers = [5201, 5202].map((p) =>
    net.spawn(line.receiver, ["iperf3", "-s", "-1", "-p", String(p)]),
  );
  await new Promise((r) => setTimeout(r, 300));
  const client = (port: number, streams: number, rate?: number) =>
    iperf(net, line.requester, [
      "-c",
      line.receiverIp,
      "-p",
      String(port),
      "-t",
      String(seconds),
      "-P",
      String(streams),
      ...(rate === undefined ? [] : ["-b", `${rate}K`]),
      "-J",
    ]);
  const [paid, be] = await Promise.all([client(5201, 1, paidKbit), client(5202, 4)]);
  await Promise.allSettled(servers);
  const mbps = (out: string) =>
    ((JSON.parse(out) as IperfResult).end?.sum_received?.bits_per_second ?? 0) / 1e6;
  return { paidMbps: mbps(paid), bestEffortMbps: mbps(be) };
}
