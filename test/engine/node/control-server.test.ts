/** The node's control socket: real Unix sockets, hostile bytes, floods, permissions. */
import { statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askNode } from "../../../engine/cli/control-client.ts";
import { parseControlRequest } from "../../../engine/node/control-protocol.ts";
import {
  type ControlHandlers,
  type ControlServer,
  startControlServer,
} from "../../../engine/node/control-server.ts";

let dir: string;
let server: ControlServer;
const closes: string[] = [];
const handlers: ControlHandlers = {
  ping: async () => ({ pid: process.pid }),
  poll: async () => ({ watched: 0 }),
  close: async ({ channelId }) => {
    closes.push(channelId);
    if (channelId.endsWith("ff")) throw Object.assign(new Error("not open"), { code: "NOT_OPEN" });
    return { channelId };
  },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-ctl-"));
  server = await startControlServer(join(dir, "node.sock"), handlers, {
    maxConnections: 8,
    requestTimeoutMs: 300,
  });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends raw bytes, half-closes, and returns what came back (undefined: dropped). */
function sendRaw(bytes: Uint8Array): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect(server.path);
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
    });
    sock.once("connect", () => sock.end(bytes));
    sock.once("close", () => resolve(buf === "" ? undefined : buf));
    sock.once("error", () => resolve(undefined));
  });
}

const honest = async () =>
  expect(await askNode(server.path, { op: "ping" })).toEqual({ pid: process.pid });

describe("control socket", () => {
  it("is a socket only its owner can open", () => {
    expect(statSync(server.path).mode & 0o777).toBe(0o600);
  });

  it("answers ping, poll and close, and carries a handler's error code back", async () => {
    await honest();
    expect(await askNode(server.path, { op: "poll" })).toEqual({ watched: 0 });
    const id = `0x${"ab".repeat(32)}` as const;
    expect(await askNode(server.path, { op: "close", channelId: id as never })).toEqual({
      channelId: id,
    });
    await expect(
      askNode(server.path, { op: "close", channelId: `0x${"ff".repeat(32)}` as never }),
    ).rejects.toMatchObject({ code: "NODE_REFUSED", details: { nodeCode: "NOT_OPEN" } });
  });

  it("parsing any string never throws and accepts only the three requests", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 2000 }),
          fc.json(),
          fc.constantFrom(
            '{"__proto__":{"op":"ping"}}',
            '{"op":"toString"}',
            '{"op":"close","channelId":{"toString":1}}',
            '{"op":"ping","constructor":1}',
            `${"[".repeat(5000)}${"]".repeat(5000)}`,
          ),
        ),
        (line) => {
          const r = parseControlRequest(line);
          if (r.ok) expect(["ping", "poll", "close"]).toContain(r.value.op);
          else expect(r.code).toBe("BAD_REQUEST");
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("survives hostile bytes: each gets a BAD_REQUEST or is dropped, changes nothing, and an honest client is served after", async () => {
    const before = closes.length;
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      fc.string({ maxLength: 500 }).map((s) => new TextEncoder().encode(`${s}\n`)),
      fc
        .constantFrom(
          '{"__proto__":{"op":"close"},"op":"close"}\n',
          '{"op":"close","channelId":"0x12"}\n',
          '{"op":"close","channelId":["0xabab"]}\n',
          '{"op":"hasOwnProperty"}\n',
          `${"{".repeat(100000)}\n`,
          `${"x".repeat(200000)}`,
          "\n",
        )
        .map((s) => new TextEncoder().encode(s)),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (bytes) => {
        const answer = await sendRaw(bytes);
        if (answer !== undefined) {
          const parsed = JSON.parse(answer) as { ok: boolean; error?: { code: string } };
          expect(parsed).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
        }
      }),
      { numRuns: 150 },
    );
    expect(closes.length).toBe(before);
    await honest();
  });

  it("drops connections that send nothing, and serves again once a flood has timed out", async () => {
    const idle = Array.from({ length: 40 }, () =>
      connect(server.path).on("error", () => undefined),
    );
    const dropped = idle.map((sock) => new Promise((r) => sock.once("close", r)));
    // The server drops each after its 300 ms request timeout; a slow machine gets 10 s.
    await Promise.race([
      Promise.all(dropped),
      new Promise((_, reject) => setTimeout(() => reject(new Error("idle sockets kept")), 10_000)),
    ]);
    await honest();
  });

  it("replaces a stale socket file and refuses a path too long to bind", async () => {
    const stale = join(dir, "stale.sock");
    writeFileSync(stale, "");
    const s = await startControlServer(stale, handlers);
    expect(await askNode(stale, { op: "ping" })).toEqual({ pid: process.pid });
    await s.close();
    expect(await askNode(stale, { op: "ping" })).toBeUndefined();
    await expect(startControlServer(join(dir, "x".repeat(120)), handlers)).rejects.toMatchObject({
      code: "ENAMETOOLONG",
    });
  });
});
