/** The pure parts of the system drivers: address pool, `wg show dump`, tc plan and stats. */
import { describe, expect, it } from "vitest";
import { parseLaneParams } from "../../../relay/tunnel/qos/params.ts";
import {
  addLaneCommands,
  laneClassId,
  parseClassStats,
  removeLaneCommands,
} from "../../../relay/tunnel/qos/tc-plan.ts";
import { redactKeys } from "../../../relay/tunnel/system/run-command.ts";
import {
  allocateAddress,
  formatIpv4,
  parseAddressPool,
  parseWgDump,
  parseWireGuardConfig,
  parseWireGuardParams,
} from "../../../relay/tunnel/wireguard/index.ts";

const KEY = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";

describe("address pool", () => {
  it.each([
    ["10.77.0.0/24", "10.77.0.1", "10.77.0.2", "10.77.0.254"],
    ["10.77.0.9/30", "10.77.0.9", "10.77.0.10", "10.77.0.10"],
  ])("%s", (cidr, gw, first, last) => {
    const p = parseAddressPool(cidr)!;
    expect([formatIpv4(p.gateway), formatIpv4(p.first), formatIpv4(p.last)]).toEqual([
      gw,
      first,
      last,
    ]);
  });
  it.each(["10.0.0.0", "10.0.0.0/31", "300.0.0.0/24", "10.0.0.0/24/1", "01.0.0.0/24"])(
    "refuses %s",
    (c) => expect(parseAddressPool(c)).toBeNull(),
  );
  it("allocates the lowest free address and reports exhaustion", () => {
    const p = parseAddressPool("10.0.0.0/30")!;
    expect(allocateAddress(p, new Set())).toBe(p.first);
    expect(allocateAddress(p, new Set([p.first]))).toBeNull();
  });
});

describe("wg show dump", () => {
  it("drops the private key and reads peers", () => {
    const d = parseWgDump(
      `PRIVATE\t${KEY}\t51820\toff\n${KEY}\t(none)\t10.0.0.2:5000\t10.77.0.2/32\t1700000000\t1234\t5678\toff\n`,
    );
    expect(JSON.stringify(d)).not.toContain("PRIVATE");
    expect(d.peers).toEqual([
      {
        publicKey: KEY,
        endpoint: "10.0.0.2:5000",
        allowedIps: ["10.77.0.2/32"],
        latestHandshake: 1700000000,
        rxBytes: 1234,
        txBytes: 5678,
      },
    ]);
  });
  it("validates params and READY configurations", () => {
    expect(parseWireGuardParams({ publicKey: KEY }).ok).toBe(true);
    expect(parseWireGuardParams({ publicKey: `${KEY}x` }).ok).toBe(false);
    expect(
      parseWireGuardConfig({
        endpoint: "1.2.3.4:51820",
        serverPublicKey: KEY,
        address: "10.77.0.2/32",
        gateway: "10.77.0.1",
        allowedIps: "10.77.0.0/24",
      }).ok,
    ).toBe(true);
    expect(parseWireGuardConfig({ endpoint: "x" }).ok).toBe(false);
    expect(redactKeys(`wg set x peer ${KEY}`)).toBe("wg set x peer [key]");
  });
});

describe("tc plan", () => {
  const layout = { device: "eth1", linkRateKbit: 20_000, defaultRateKbit: 200 };
  const lane = parseLaneParams(
    { dst: "10.0.0.9", protocol: "tcp", dport: 5201, rateKbit: 8_000 },
    18_000,
  );
  it("validates lane parameters", () => {
    expect(lane.ok).toBe(true);
    expect(parseLaneParams({ dst: "10.0.0.9", dport: 5201, rateKbit: 8_000 }, 18_000).ok).toBe(
      false,
    );
    expect(parseLaneParams({ dst: "10.0.0.9", rateKbit: 19_000 }, 18_000).ok).toBe(false);
  });
  it("adds class before filter and removes filter before class", () => {
    if (!lane.ok) return;
    const add = addLaneCommands(layout, 3, lane.value);
    expect(add[0]?.join(" ")).toBe(
      "tc class add dev eth1 parent 1:1 classid 1:103 htb rate 8000kbit ceil 20000kbit prio 0",
    );
    expect(add[1]?.join(" ")).toContain("pref 103 u32 match ip dst 10.0.0.9/32");
    expect(add[1]?.join(" ")).toContain("match ip dport 5201 0xffff flowid 1:103");
    const rm = removeLaneCommands(layout, 3);
    expect(rm.map((c) => c[1])).toEqual(["filter", "class"]);
    expect(laneClassId(3)).toBe("1:103");
  });
  it("reads class counters", () => {
    const s = parseClassStats(
      "class htb 1:103 parent 1:1 prio 0 rate 8Mbit ceil 20Mbit burst 1600b cburst 1600b \n" +
        " Sent 123456 bytes 789 pkt (dropped 2, overlimits 5 requeues 0) \n",
    );
    expect(s.get("1:103")).toEqual({ bytes: 123456, packets: 789, dropped: 2, overlimits: 5 });
  });
});
