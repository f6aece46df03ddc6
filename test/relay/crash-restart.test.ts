/**
 * Crashes as real processes. A provider node is SIGKILLed in the middle of a paid session and
 * restarted on its store: the requester notices, stops paying, and goes on in a new session on
 * the same channel; the provider's store holds every ACKed proof, and settling on chain with its
 * newest proof pays at least every ACKed unit. Separately a requester is SIGKILLed and restarted
 * on its store: its new OPEN replaces the old session at once (no SESSION_BUSY), and the new
 * payments build on what the provider billed, not on what the dead process had signed. In both,
 * the requester never signs more than what it was billed plus one credit window.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { getBytes, type HDNodeWallet, type JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectChain, providerFor } from "../../channels/chain/client.ts";
import {
  type PaymentChannelsSettlement,
  paymentChannelsSettlement,
} from "../../channels/settlement/payment-channels/backend.ts";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import type { Address } from "../../channels/types.ts";
import { deployContracts } from "../../engine/chain/deploy.ts";
import { devWallet } from "../../engine/chain/dev-accounts.ts";
import { type EmbeddedChain, serveEmbeddedChain } from "../../engine/chain/embedded.ts";
import type { SessionClosedEvent } from "../../relay/provider/index.ts";
import { openChannel } from "../../relay/requester/channel-funds.ts";
import { connect, type SessionResumed } from "../../relay/requester/client.ts";
import { keyOf, removeDir, startProvider, type TestProvider, until } from "./helpers.ts";

const PRICE = 10n;
const CREDIT = 20n;
const dirs: string[] = [];
const children = new Set<ChildProcessWithoutNullStreams>();
const tempDir = (label: string) => {
  const d = mkdtempSync(join(tmpdir(), `tollway-${label}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) removeDir(d);
});

type Line = Record<string, string> & { event: string };

/** A child process that reports JSON lines. */
interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: Line[];
  /** Resolves with the first line (past or future) that `pred` accepts. */
  next(pred: (l: Line) => boolean, ms: number, what: string): Promise<Line>;
  kill(): Promise<void>;
}

function start(fixture: string, args: readonly string[]): Child {
  const script = new URL(`./fixtures/${fixture}`, import.meta.url).pathname;
  const proc = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.add(proc);
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += String(d);
  });
  const lines: Line[] = [];
  const waiting = new Set<() => void>();
  createInterface({ input: proc.stdout }).on("line", (text) => {
    lines.push(JSON.parse(text) as Line);
    for (const w of waiting) w();
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    proc,
    lines,
    next(pred, ms, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit === undefined) return;
          cleanup();
          resolve(hit);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what} (${fixture}); stderr: ${stderr}`));
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          waiting.delete(check);
        };
        waiting.add(check);
        check();
      });
    },
    async kill() {
      proc.kill("SIGKILL");
      await exited;
      children.delete(proc);
    },
  };
}

/** A port nothing listens on now (the restarted node takes the same one). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("a provider node killed mid-session", () => {
  let chain: EmbeddedChain;
  let rpc: JsonRpcProvider;
  let contract: Address;
  let alice: PaymentChannelsSettlement;
  let bob: PaymentChannelsSettlement;
  const [deployer, aliceWallet, bobWallet] = [0, 1, 2].map(devWallet) as [
    HDNodeWallet,
    HDNodeWallet,
    HDNodeWallet,
  ];
  beforeAll(async () => {
    // Served over JSON-RPC: the provider's process finds the channel on the same chain.
    chain = await serveEmbeddedChain("127.0.0.1", 0);
    rpc = providerFor(chain.url!) as JsonRpcProvider;
    const deployment = await deployContracts(deployer.connect(rpc), {
      holders: [aliceWallet, bobWallet].map((w) => ({
        address: w.address as Address,
        amount: 10n ** 24n,
      })),
      minSettleWindow: 60,
    });
    contract = deployment.channels;
    const backend = async (w: HDNodeWallet) =>
      paymentChannelsSettlement(await connectChain({ signer: w.connect(rpc), channels: contract }));
    alice = await backend(aliceWallet);
    bob = await backend(bobWallet);
  });
  afterAll(async () => {
    rpc?.destroy();
    await chain?.stop();
  });

  it("loses no ACKed unit, pays none twice, and the session goes on after the restart", async () => {
    const deposit = 1_000_000n;
    const ref = await openChannel(alice, {
      partner: bobWallet.address as Address,
      amount: deposit,
      settleWindow: 60,
    });
    const providerDir = tempDir("provider");
    const port = String(await freePort());
    const config = JSON.stringify({ key: bobWallet.privateKey.slice(2), rpc: chain.url, contract });
    const listening = (l: Line) => l.event === "listening";
    let node = start("provider-process.ts", [providerDir, port, config]);
    const { url } = await node.next(listening, 30_000, "the node to listen");

    const store = await ChannelStore.open(tempDir("requester"));
    const client = await connect({
      key: getBytes(aliceWallet.privateKey),
      url: url!,
      store,
      domain: alice.domain,
      reconnect: { attempts: 80, delayMs: 100, maxDelayMs: 250 },
    });
    const session = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: PRICE,
      tunnel: { kind: "proxy" },
      payEveryMs: 50,
    });
    let maxAcked = 0n;
    session.on("ack", (a) => {
      if (a.transferred > maxAcked) maxAcked = a.transferred;
    });
    const resumed: SessionResumed[] = [];
    session.on("resumed", (r) => resumed.push(r));
    const firstId = session.id;
    await until(() => maxAcked >= 3n * PRICE, 10_000, "three paid seconds");

    await node.kill();
    const ackedAtKill = maxAcked;
    node = start("provider-process.ts", [providerDir, port, config]);
    await node.next(listening, 30_000, "the restarted node to listen");
    await until(() => resumed.length > 0, 20_000, "the session to go on");
    expect(resumed[0]).toMatchObject({ fresh: true });
    expect(session.id).not.toBe(firstId);
    await node.next((l) => l.event === "session-ready", 5_000, "the new session's READY");
    await until(() => maxAcked >= ackedAtKill + 2n * PRICE, 10_000, "payments after the restart");

    await session.close();
    await expect(session.done).resolves.toMatchObject({ code: "CLOSED_LOCALLY" });
    const end = await node.next(
      (l) => l.event === "session-closed" && l.sessionId === session.id,
      5_000,
      "the session's end at the node",
    );
    await client.close();
    const signed = client.channel(ref.channelId)!.sent!.proof.transferred;
    await store.close();
    // Paid for nothing twice: at most one credit window beyond what the node billed.
    expect(signed).toBeLessThanOrEqual(BigInt(end.billed!) + CREDIT);
    expect(BigInt(end.carried!)).toBeLessThanOrEqual(CREDIT);

    // Killed again, the node's store holds every proof it ACKed, before and after the restart.
    await node.kill();
    const held = await ChannelStore.open(providerDir);
    const received = (await held.loadChannel(ref.channelId))!.received!;
    await held.close();
    expect(received.proof.transferred).toBeGreaterThanOrEqual(maxAcked);

    // On chain: closing with the node's newest proof pays the provider every ACKed unit.
    const closing = await bob.send({
      type: "ChainSendClose",
      channelId: ref.channelId,
      proof: received,
    });
    await rpc.send("evm_increaseTime", [61]);
    await rpc.send("evm_mine", []);
    const view = await bob.channel(ref.channelId);
    if (view.status !== "closing") throw new Error(`channel is ${view.status}`);
    const before = await bob.balanceOf(bobWallet.address as Address);
    await bob.send({ type: "ChainSendSettle", channelId: ref.channelId, closing: view.closing });
    expect(closing.finalizesAt).toBeGreaterThan(0);
    expect((await bob.balanceOf(bobWallet.address as Address)) - before).toBeGreaterThanOrEqual(
      maxAcked,
    );
  });
});

describe("a requester killed mid-session", () => {
  let p: TestProvider;
  const closed: SessionClosedEvent[] = [];
  // A window of 20 s: the dead process's session is still up when the new one starts, however
  // slowly this machine starts a process.
  const credit = 200n;
  beforeAll(async () => {
    p = await startProvider({
      pricing: { second: { unitPrice: PRICE, creditLimit: credit, graceMs: 500 } },
    });
    p.node.on("session-closed", (e) => closed.push(e));
  });
  afterAll(async () => {
    await p.stop();
    removeDir(p.dir);
  });

  it("comes back on its store at once, and pays on top of what it was billed", async () => {
    const key = keyOf("killed-requester");
    const ref = p.channel(key, 1_000_000n);
    const storeDir = tempDir("requester");
    const json = JSON.stringify(ref, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    const args = [p.node.url, Buffer.from(key).toString("hex"), storeDir, json];
    const acks = (c: Child) =>
      c.lines.filter((l) => l.event === "ack").map((l) => BigInt(l.transferred!));

    const first = start("resuming-requester.ts", args);
    await first.next((l) => l.event === "ready", 15_000, "the first READY");
    await first.next((l) => l.event === "ack" && BigInt(l.transferred!) >= 30n, 10_000, "ACKs");
    await first.kill();
    let ackedBefore = 0n;
    for (const t of acks(first)) if (t > ackedBefore) ackedBefore = t;
    const oldId = (await first.next((l) => l.event === "ready", 0, "READY")).sessionId!;

    // Back at once, while the node still holds the dead process's session.
    expect(p.node.session(oldId)?.phase).toBe("active");
    const second = start("resuming-requester.ts", args);
    const ready = await second.next(
      (l) => l.event === "ready" || l.event === "open-failed",
      15_000,
      "the second open's outcome",
    );
    expect(ready).toMatchObject({ event: "ready" });
    const replaced = closed.find((e) => e.sessionId === oldId)!;
    expect(replaced.code).toBe("SESSION_REPLACED");
    // The first unit and the one ahead, on top of what the old session was billed (not on top
    // of what the dead process had signed beyond it).
    expect(BigInt(ready.signed!)).toBeLessThanOrEqual(replaced.billed + 2n * PRICE);
    await second.next(
      (l) => l.event === "ack" && BigInt(l.transferred!) > BigInt(ready.signed!),
      10_000,
      "ACKs of the new session",
    );
    second.proc.stdin.write("close\n");
    const done = await second.next((l) => l.event === "closed", 10_000, "the close");
    const end = closed.find((e) => e.sessionId === ready.sessionId)!;
    expect(BigInt(done.signed!)).toBeLessThanOrEqual(end.billed + credit);
    // Every ACK either process saw is in the node's store.
    const held = p.node.channel(ref.channelId)!.received!.proof.transferred;
    expect(held).toBeGreaterThanOrEqual(ackedBefore);
    for (const t of acks(second)) expect(held).toBeGreaterThanOrEqual(t);
  });
});
