/**
 * A paid WireGuard tunnel end to end: the relay's provider node (in this process) drives the
 * `wireguard` driver whose interface lives in a provider namespace; the requester SDK pays over
 * the WebSocket with real signed balance proofs, per byte (from its own WireGuard counters) and
 * per second; the requester's own interface lives in a second namespace. When it stops paying,
 * the provider removes the peer and the traffic stops within 1 s of the credit running out.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSigner } from "../../../channels/crypto/signer.ts";
import {
  createProviderNode,
  type ProviderNode,
  type SessionClosedEvent,
} from "../../../relay/provider/index.ts";
import { connect, type SessionChannel } from "../../../relay/requester/client.ts";
import {
  bringUpWireGuardClient,
  createWireGuardDriver,
  generateWireGuardKeyPair,
  type WireGuardClient,
  type WireGuardDriver,
} from "../../../relay/tunnel/wireguard/index.ts";
import { createTestNet, describeWhen, netnsSupport, type TestNet } from "../../helpers/netns.ts";
import { keyOf, memoryChain, sharedPool, sleep, until } from "../helpers.ts";
import { startSink, startSource } from "./fixtures/traffic-control.ts";

const support = await netnsSupport(["wg", "wireguard-go"]);

describeWhen(support, "paid WireGuard namespace tests")("paid wireguard tunnel", () => {
  let net: TestNet;
  let prov: string;
  let req: string;
  let providerIp: string;
  let driver: WireGuardDriver;
  let node: ProviderNode;
  const chain = memoryChain();
  const providerKey = keyOf("wg-provider");
  const providerAddress = createSigner(providerKey).address;
  const keyDir = mkdtempSync(join(tmpdir(), "tw-wgpaid-"));
  const closed: SessionClosedEvent[] = [];
  const clients: WireGuardClient[] = [];

  function channel(requesterKey: Uint8Array, depositA: bigint): SessionChannel {
    const requester = createSigner(requesterKey).address;
    chain.mint(requester, depositA);
    const { channelId, ref } = chain.execute(requester, {
      type: "ChainSendOpen",
      partner: providerAddress,
      amount: depositA,
      settleWindow: 600,
    });
    return { channelId, ref, depositA };
  }

  beforeAll(async () => {
    net = await createTestNet();
    prov = await net.host("p");
    req = await net.host("r");
    providerIp = (await net.link(req, prov, "192.168.78")).b.ip;
    driver = await createWireGuardDriver({
      interfaceName: net.ifname("wp"),
      netns: prov,
      listenPort: 51820,
      endpointHost: providerIp,
      addressPool: "10.78.0.0/24",
      keyDir,
    });
    node = await createProviderNode({
      key: providerKey,
      settlement: chain.backendFor(providerAddress),
      storeDir: mkdtempSync(join(tmpdir(), "tw-wgpaid-store-")),
      drivers: [driver],
      pricing: {
        second: { unitPrice: 100n, creditLimit: 200n, graceMs: 300 },
        byte: { unitPrice: 1n, creditLimit: 65_536n, graceMs: 300, tickMs: 200 },
      },
      verifyPool: await sharedPool(),
    });
    node.on("session-closed", (e) => closed.push(e));
  });

  afterAll(async () => {
    for (const c of clients) await c.down().catch(() => undefined);
    await node?.close();
    await driver?.close().catch(() => undefined);
    await net?.destroy();
  });

  for (const mode of ["byte", "second"] as const) {
    it(`meters per ${mode}, and stops the traffic within 1 s of the credit running out`, async () => {
      const key = keyOf(`wg-requester-${mode}`);
      const wgKeys = generateWireGuardKeyPair();
      const client = await connect({ key, url: node.url });
      let own = 0;
      let wg: WireGuardClient | null = null;
      const session = await client.openSession({
        channel: channel(key, 100_000_000n),
        mode,
        unitPrice: mode === "byte" ? 1n : 100n,
        tunnel: { kind: "wireguard", params: { publicKey: wgKeys.publicKey } },
        prepayUnits: mode === "byte" ? 32_768n : 1n,
        meter: mode === "byte" ? () => own : undefined,
        // Our counters come from `wg show` in a subprocess every 50 ms, so they trail the
        // provider's by up to a poll's worth of traffic (2 Mbit/s: ~25 KB per 100 ms).
        tolerance: mode === "byte" ? { ratio: 0.1, units: 65_536n } : undefined,
      });
      expect(session.tunnel.serverPublicKey).toBe(driver.publicKey);
      wg = await bringUpWireGuardClient({
        interfaceName: net.ifname(`w${mode[0]}`),
        netns: req,
        privateKey: wgKeys.privateKey,
        keyDir,
        config: session.tunnel,
      });
      clients.push(wg);
      const poll = setInterval(() => {
        wg?.stats()
          .then((s) => {
            own = s.rxBytes + s.txBytes;
          })
          .catch(() => undefined);
      }, 50);
      const port = mode === "byte" ? 9101 : 9102;
      const sink = await startSink(net, prov, port);
      const source = startSource(net, req, "10.78.0.1", port, 1_000);
      try {
        await sink.waitFor(200_000, 10_000);
        await sleep(1_200);
        const usage = await driver.readUsage(session.id);
        expect(usage.bytesIn).toBeGreaterThan(200_000);
        // Paid: the provider holds durable proofs for what the tunnel carried (bytes or seconds).
        const acked = session.state.ackedTransferred;
        if (mode === "byte") expect(acked).toBeGreaterThan(200_000n);
        else expect(acked).toBeGreaterThanOrEqual(200n);

        session.stopPaying();
        const end = await session.closed;
        expect(end.code).toBe("CREDIT_EXHAUSTED");
        const e = closed.find((c) => c.sessionId === session.id);
        expect(e).toBeDefined();
        if (e === undefined || e.exhaustedAt === null) throw new Error("no exhaustion recorded");
        // The driver blocks the peer at its byte budget from counters read every 50 ms (plus a
        // `wg show` round trip): at 1 Mbit/s that lets up to ~20 KB past the credit limit.
        const slack = mode === "byte" ? 24_576n : 0n;
        expect(e.maxUnpaid).toBeLessThanOrEqual(e.creditLimit + slack);
        await until(() => sink.lastDataAt() > 0, 1_000);
        await sleep(1_500);
        expect(await driver.listPeers()).not.toContain(wgKeys.publicKey);
        // The node's clock is performance.now(); the sink's is the wall clock.
        const stopAfter = sink.lastDataAt() - (performance.timeOrigin + e.exhaustedAt);
        console.log(
          `wireguard/${mode}: paid ${e.paid}, owed ${e.owed}, max unpaid ${e.maxUnpaid}/${e.creditLimit}, last byte ${stopAfter} ms after the credit ran out`,
        );
        expect(stopAfter).toBeLessThanOrEqual(1_000);
      } finally {
        clearInterval(poll);
        source.stop();
        sink.stop();
        await wg.down();
        await client.close();
      }
    });
  }
});
