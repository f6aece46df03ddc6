/**
 * End to end on the in-process chain: a channel opened on chain, a provider node that finds it
 * there, a requester paying per second and per byte through the metered proxy while fetching
 * from a local HTTP server, the proxy cutting the session once payments stop, and a cooperative
 * close negotiated over the socket and submitted on chain.
 */
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectChain, providerFor } from "../../channels/chain/client.ts";
import {
  type PaymentChannelsSettlement,
  paymentChannelsSettlement,
} from "../../channels/settlement/payment-channels/backend.ts";
import type { Address } from "../../channels/types.ts";
import {
  createProviderNode,
  type ProviderNode,
  type SessionClosedEvent,
} from "../../relay/provider/index.ts";
import { closeCooperatively, openChannel } from "../../relay/requester/channel-funds.ts";
import { connect, type RequesterClient } from "../../relay/requester/client.ts";
import { createProxyDriver } from "../../relay/tunnel/proxy/proxy-driver.ts";
import { deployFixture, type Fixture } from "../helpers/chain.ts";
import { removeDir, sleep } from "./helpers.ts";
import { counters, get, httpConnect, socks5Connect } from "./proxy-client.ts";

const D = 10n ** 18n;
let f: Fixture;
let aliceChain: PaymentChannelsSettlement;
let node: ProviderNode;
let proxy: Awaited<ReturnType<typeof createProxyDriver>>;
let http: Server;
let httpPort: number;
let dir: string;
let client: RequesterClient;
const closed: SessionClosedEvent[] = [];
const BODY = Buffer.alloc(48 * 1024, 0x61);

beforeAll(async () => {
  f = await deployFixture();
  const provider = providerFor(f.connection.provider);
  const channels = (await f.channels.getAddress()) as Address;
  aliceChain = paymentChannelsSettlement(
    await connectChain({ signer: f.alice.connect(provider), channels }),
  );
  const bobChain = paymentChannelsSettlement(
    await connectChain({ signer: f.bob.connect(provider), channels }),
  );
  http = createServer((_, res) => res.end(BODY));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  httpPort = (http.address() as AddressInfo).port;
  proxy = await createProxyDriver({ allow: [`127.0.0.1/32:${httpPort}`] });
  dir = mkdtempSync(join(tmpdir(), "tollway-e2e-"));
  node = await createProviderNode({
    key: getBytes(f.bob.privateKey),
    settlement: bobChain,
    storeDir: dir,
    drivers: [proxy],
    pricing: {
      second: { unitPrice: D / 1000n, creditLimit: D / 1000n, graceMs: 600 },
      byte: { unitPrice: 1000n, creditLimit: 64_000n * 1000n, graceMs: 300, tickMs: 200 },
    },
    verifyThreads: 1,
  });
  node.on("session-closed", (e) => closed.push(e));
  client = await connect({
    key: getBytes(f.alice.privateKey),
    url: node.url,
    domain: aliceChain.domain,
  });
});

afterAll(async () => {
  await client?.close();
  await node?.close();
  await proxy?.close();
  await new Promise((r) => http?.close(r));
  await f?.connection.close();
  if (dir) removeDir(dir);
});

describe("relay end to end on the in-process chain", () => {
  it("pays per second and per byte through the proxy, is cut when it stops paying, then settles cooperatively", async () => {
    const ref = await openChannel(aliceChain, {
      partner: f.bob.address as Address,
      amount: 5n * D,
      settleWindow: 600,
    });

    // Per second, over HTTP CONNECT.
    const perSecond = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: D / 1000n,
      tunnel: { kind: "proxy" },
    });
    const tunnel = await httpConnect(perSecond.tunnel, httpPort);
    expect(typeof tunnel).not.toBe("number");
    const body = await get(tunnel as Socket, "/");
    expect(body.subarray(body.length - BODY.length).equals(BODY)).toBe(true);
    await sleep(2_100);
    const held = await httpConnect(perSecond.tunnel, httpPort);
    expect(typeof held).not.toBe("number");
    const cut = new Promise((r) => (held as Socket).once("close", r));
    perSecond.stopPaying();
    expect((await perSecond.closed).code).toBe("CREDIT_EXHAUSTED");
    await cut; // the open tunnel was closed at teardown
    expect(await httpConnect(perSecond.tunnel, httpPort)).toBe(407); // credentials are gone
    const e1 = closed.find((c) => c.sessionId === perSecond.id)!;
    expect(e1.maxUnpaid).toBeLessThanOrEqual(e1.creditLimit);
    expect(e1.paid).toBeGreaterThanOrEqual(3n * (D / 1000n));

    // Per byte, over SOCKS5, paying from our own byte counters.
    counters.bytes = 0;
    const perByte = await client.openSession({
      channel: ref,
      mode: "byte",
      unitPrice: 1000n,
      prepayUnits: 64_000n,
      tunnel: { kind: "proxy" },
      meter: () => counters.bytes,
    });
    const usage: bigint[] = [];
    perByte.on("usage", (u) => usage.push(u.units));
    for (let i = 0; i < 4; i++) {
      const s = await socks5Connect(perByte.tunnel, httpPort);
      expect(typeof s).not.toBe("number");
      const b = await get(s as Socket, "/");
      expect(b.length).toBeGreaterThan(BODY.length);
    }
    await sleep(500);
    expect(usage.length).toBeGreaterThan(0);
    expect(usage.at(-1)!).toBeGreaterThanOrEqual(4n * BigInt(BODY.length));
    perByte.stopPaying();
    // Traffic beyond the budget is held back; the session is cut after the grace period.
    const flows: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await socks5Connect(perByte.tunnel, httpPort);
      if (typeof s !== "number") flows.push(get(s, "/"));
    }
    expect((await perByte.closed).code).toBe("CREDIT_EXHAUSTED");
    await Promise.all(flows);
    const e2 = closed.find((c) => c.sessionId === perByte.id)!;
    expect(e2.maxUnpaid).toBeLessThanOrEqual(e2.creditLimit);
    expect(e2.owed).toBeGreaterThanOrEqual(4n * BigInt(BODY.length) * 1000n);

    // Cooperative close over the socket, then on chain.
    const paidToBob = client.channel(ref.channelId)!.sent!.proof.transferred;
    const before = await aliceChain.balanceOf(f.bob.address as Address);
    const closedTx = await closeCooperatively(client, aliceChain, ref.channelId);
    expect(closedTx.payoutB).toBe(paidToBob);
    expect(await aliceChain.balanceOf(f.bob.address as Address)).toBe(before + paidToBob);
    expect(await aliceChain.channel(ref.channelId)).toEqual({
      status: "none",
      channelId: ref.channelId,
    });
  });
});
