/**
 * A provider node on its caller's HTTP server: the caller's own routes and the node's WebSocket
 * share one port, the node's socket limits hold for its WebSockets (not for the caller's
 * requests), and closing the node leaves the server and its routes running.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect } from "../../relay/requester/client.ts";
import { keyOf, removeDir, startProvider, type TestProvider, until } from "./helpers.ts";

let server: Server;
let p: TestProvider;
let stopped = false;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`sessions ${stopped ? 0 : p.node.stats().sessions}\n`);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  p = await startProvider({ server, limits: { maxPerIp: 2 } });
});

afterAll(async () => {
  if (!stopped) await p.stop();
  await new Promise((resolve) => server.close(resolve));
  removeDir(p.dir);
});

/** Opens a raw WebSocket: "open" when the node took it, "refused" when it was cut off. */
function tryOpen(url: string): Promise<{ ws: WebSocket; outcome: "open" | "refused" }> {
  const ws = new WebSocket(url);
  return new Promise((resolve) => {
    ws.once("open", () => resolve({ ws, outcome: "open" }));
    ws.once("error", () => resolve({ ws, outcome: "refused" }));
  });
}

const metrics = async () => (await fetch(`${base}/metrics`)).text();

describe("a node on the caller's HTTP server", () => {
  it("serves the caller's route and the node's WebSocket on the same port", async () => {
    expect(p.node.port).toBe((server.address() as AddressInfo).port);
    expect(await metrics()).toBe("sessions 0\n");
    const key = keyOf("shared-server");
    const client = await connect({ key, url: p.node.url });
    const session = await client.openSession({
      channel: p.channel(key, 1_000_000n),
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    await until(() => session.ackedNonce >= 1n, 3_000, "the first ACK");
    expect(await metrics()).toBe("sessions 1\n");
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
    await session.close();
    await client.close();
    await until(() => p.node.stats().connections === 0, 3_000, "the client gone");
  });

  it("admits WebSockets under the node's limits, and the caller's requests beside them", async () => {
    // Two sockets without a channel from one address are all `maxPerIp: 2` allows.
    const first = await tryOpen(p.node.url);
    const second = await tryOpen(p.node.url);
    expect([first.outcome, second.outcome]).toEqual(["open", "open"]);
    const third = await tryOpen(p.node.url);
    expect(third.outcome).toBe("refused");
    const answers = await Promise.all([metrics(), metrics(), metrics()]);
    expect(answers).toEqual(["sessions 0\n", "sessions 0\n", "sessions 0\n"]);
    first.ws.terminate();
    second.ws.terminate();
    await until(() => p.node.stats().connections === 0, 3_000, "the sockets gone");
    const again = await tryOpen(p.node.url);
    expect(again.outcome).toBe("open");
    again.ws.terminate();
  });

  it("leaves the server and its routes running when the node closes", async () => {
    await p.stop();
    stopped = true;
    expect(server.listening).toBe(true);
    expect(await metrics()).toBe("sessions 0\n");
    const late = await tryOpen(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(late.outcome).toBe("refused");
    late.ws.terminate();
  });
});
