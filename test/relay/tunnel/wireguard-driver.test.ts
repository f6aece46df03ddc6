/**
 * The `wireguard` driver for real: a provider and a requester in two namespaces joined by a veth
 * pair, wireguard-go (no kernel module here) on both ends, TCP traffic through the tunnel.
 */
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { isSystemTunnelError } from "../../../relay/tunnel/system/errors.ts";
import { createRunner } from "../../../relay/tunnel/system/run-command.ts";
import {
  bringUpWireGuardClient,
  createWireGuardDriver,
  generateWireGuardKeyPair,
  type WireGuardClient,
  type WireGuardDriver,
} from "../../../relay/tunnel/wireguard/index.ts";
import { readUapiPeers, uapiSocketPath } from "../../../relay/tunnel/wireguard/uapi.ts";
import { parseWgDump } from "../../../relay/tunnel/wireguard/wg-dump.ts";
import { createTestNet, describeWhen, netnsSupport, type TestNet } from "../../helpers/netns.ts";
import { startSink, startSource } from "./fixtures/traffic-control.ts";

const support = await netnsSupport(["wg", "wireguard-go"]);

describeWhen(support, "WireGuard namespace tests")("wireguard driver in namespaces", () => {
  let net: TestNet;
  let prov: string;
  let req: string;
  let providerIp: string;
  let driver: WireGuardDriver;
  const keyDir = mkdtempSync(join(tmpdir(), "tw-wg-"));
  const clients: WireGuardClient[] = [];

  beforeAll(async () => {
    net = await createTestNet();
    prov = await net.host("p");
    req = await net.host("r");
    const l = await net.link(req, prov, "192.168.77");
    providerIp = l.b.ip;
    driver = await createWireGuardDriver({
      interfaceName: net.ifname("wp"),
      netns: prov,
      listenPort: 51820,
      endpointHost: providerIp,
      addressPool: "10.77.0.0/24",
      keyDir,
    });
  });

  afterAll(async () => {
    for (const c of clients) await c.down().catch(() => undefined);
    await driver?.close().catch(() => undefined);
    await net?.destroy();
  });

  it("adds a peer per session, carries traffic, meters it, and removes the peer", async () => {
    expect(driver.implementation).toBe("userspace");
    expect(statSync(join(keyDir, `${net.ifname("wp")}.key`)).mode & 0o777).toBe(0o600);
    const keys = generateWireGuardKeyPair();
    const config = await driver.activate({
      sessionId: "s1",
      kind: "wireguard",
      params: { publicKey: keys.publicKey },
    });
    expect(config).toMatchObject({
      endpoint: `${providerIp}:51820`,
      serverPublicKey: driver.publicKey,
      address: "10.77.0.2/32",
      gateway: "10.77.0.1",
      allowedIps: "10.77.0.0/24",
    });
    expect(await driver.listPeers()).toEqual([keys.publicKey]);
    const client = await bringUpWireGuardClient({
      interfaceName: net.ifname("wr"),
      netns: req,
      privateKey: keys.privateKey,
      keyDir,
      config,
    });
    clients.push(client);
    const sink = await startSink(net, prov, 9000);
    const source = startSource(net, req, "10.77.0.1", 9000, 4_000);
    await sink.waitFor(200_000, 10_000);
    const usage = await driver.readUsage("s1");
    // What the provider received through the tunnel covers what reached the sink.
    expect(usage.bytesIn).toBeGreaterThan(200_000);
    expect(usage.bytesOut).toBeGreaterThan(0);
    const stats = await driver.peerStats("s1");
    expect(stats?.latestHandshake).toBeGreaterThan(0);
    // Counters come from wireguard-go's UAPI socket and agree with what `wg show` prints.
    const [viaUapi] = await readUapiPeers(uapiSocketPath(net.ifname("wp")));
    const viaWg = parseWgDump(await net.exec(prov, ["wg", "show", net.ifname("wp"), "dump"]))
      .peers[0]!;
    expect(viaUapi!.publicKey).toBe(keys.publicKey);
    expect(viaUapi!.allowedIps).toEqual(viaWg.allowedIps);
    expect(viaUapi!.latestHandshake).toBe(viaWg.latestHandshake);
    expect(Math.abs(viaUapi!.rxBytes - viaWg.rxBytes)).toBeLessThan(200_000);

    await driver.deactivate("s1");
    const removedAt = Date.now();
    expect(await driver.listPeers()).toEqual([]);
    expect(await driver.readUsage("s1")).toEqual({
      bytesIn: 0,
      bytesOut: 0,
      packetsIn: 0,
      packetsOut: 0,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    // Nothing reaches the sink once the peer is gone (one 50 ms report may be in flight).
    expect(sink.lastDataAt()).toBeLessThan(removedAt + 200);
    source.stop();
    sink.stop();
  });

  it("refuses bad parameters, a second peer for a session, and a key in use", async () => {
    const bad = await driver
      .activate({ sessionId: "x", kind: "wireguard", params: { publicKey: "nope" } })
      .catch((e: unknown) => e);
    expect(isSystemTunnelError(bad, "PARAMS_INVALID")).toBe(true);
    const k = generateWireGuardKeyPair().publicKey;
    await driver.activate({ sessionId: "a", kind: "wireguard", params: { publicKey: k } });
    const again = await driver
      .activate({ sessionId: "a", kind: "wireguard", params: { publicKey: k } })
      .catch((e: unknown) => e);
    expect(isSystemTunnelError(again, "SESSION_EXISTS")).toBe(true);
    const reused = await driver
      .activate({ sessionId: "b", kind: "wireguard", params: { publicKey: k } })
      .catch((e: unknown) => e);
    expect(isSystemTunnelError(reused, "PEER_IN_USE")).toBe(true);
    await driver.deactivate("a");
    await driver.deactivate("a");
  });

  it("removes stale peers when a driver restarts on an existing interface", async () => {
    const stale = generateWireGuardKeyPair().publicKey;
    await driver.activate({ sessionId: "old", kind: "wireguard", params: { publicKey: stale } });
    expect(await driver.listPeers()).toContain(stale);
    // A crash: the process dies, the interface (a daemon) stays; a new driver adopts it.
    const restarted = await createWireGuardDriver({
      interfaceName: net.ifname("wp"),
      netns: prov,
      listenPort: 51820,
      endpointHost: providerIp,
      addressPool: "10.77.0.0/24",
      keyDir,
    });
    expect(restarted.publicKey).toBe(driver.publicKey);
    expect(await restarted.listPeers()).toEqual([]);
  });

  it("names the failing command and its stderr, never a private key", async () => {
    const run = createRunner(prov);
    const secret = generateWireGuardKeyPair().privateKey;
    const err = await run(["wg", "set", "tw-nosuchif", "peer", secret, "remove"]).catch(
      (e: unknown) => e,
    );
    expect(isSystemTunnelError(err, "COMMAND_FAILED")).toBe(true);
    if (!isSystemTunnelError(err)) return;
    expect(err.details.command).toContain("wg set tw-nosuchif peer [key] remove");
    expect(String(err.details.stderr)).not.toBe("");
    expect(`${err.message} ${JSON.stringify(err.details)}`).not.toContain(secret);
    const missing = await createRunner(null)(["tw-no-such-binary"]).catch((e: unknown) => e);
    expect(isSystemTunnelError(missing, "COMMAND_MISSING")).toBe(true);
  });
});
