import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { ChannelRef } from "../../channels/settlement/channel-ref.ts";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import { CloseCode } from "../../relay/errors.ts";
import type { SessionClosedEvent } from "../../relay/provider/index.ts";
import { connect } from "../../relay/requester/client.ts";
import { openWireConnection, type WireConnection } from "../../relay/requester/wire-connection.ts";
import { encodeFrame } from "../../relay/wire/codec.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import {
  domain,
  keyOf,
  memoryChain,
  openOn,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";

let p: TestProvider;
const closed: SessionClosedEvent[] = [];
beforeAll(async () => {
  p = await startProvider({
    limits: { authTimeoutMs: 300, rate: { perSecond: 2_000, burst: 500 } },
  });
  p.node.on("session-closed", (e) => closed.push(e));
});
afterAll(async () => {
  await p.stop();
  removeDir(p.dir);
});

/** A raw authenticated connection that records every frame. */
async function raw(label: string) {
  const signer = createSigner(keyOf(label));
  const wire = await openWireConnection({ url: p.node.url, signer, domain });
  const frames: Frame[] = [];
  wire.onFrame = (f) => frames.push(f);
  return { wire, frames, signer };
}

function open(
  wire: WireConnection,
  ref: ReturnType<TestProvider["channel"]>,
  mode: "second" | "byte" = "second",
) {
  wire.send({
    type: "OPEN",
    channelId: ref.channelId,
    ref: ref.ref,
    dealId: "d",
    mode,
    unitPrice: mode === "second" ? 10n : 1n,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume: null,
  });
}

const pay = (
  signer: ReturnType<typeof createSigner>,
  ref: { channelId: `0x${string}` },
  nonce: bigint,
  transferred: bigint,
): Frame => {
  const proof = { channelId: ref.channelId as never, nonce, transferred };
  return { type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) };
};
const errors = (frames: Frame[]) => frames.flatMap((f) => (f.type === "ERROR" ? [f.code] : []));

describe("provider node, live", () => {
  it("drops a socket that does not authenticate in time, and answers nothing else before AUTH", async () => {
    const ws = new WebSocket(p.node.url);
    const got: Buffer[] = [];
    ws.on("message", (d: Buffer) => got.push(d));
    await new Promise((r) => ws.once("open", r));
    await sleep(20);
    ws.send(encodeFrame({ type: "CLOSE", sessionId: "x", code: "CLOSED_BY_PEER", reason: "" }));
    const code = await new Promise<number>((r) => ws.once("close", (c) => r(c)));
    expect(code).toBe(CloseCode.AUTH_TIMEOUT);
    expect(got.length).toBe(2); // HELLO, then ERROR FRAME_UNEXPECTED
  });

  it("refuses an AUTH signed by someone else and closes with AUTH_FAILED", async () => {
    const liar = createSigner(keyOf("liar"));
    const victim = createSigner(keyOf("victim"));
    const impostor = { ...liar, address: victim.address };
    await expect(openWireConnection({ url: p.node.url, signer: impostor })).rejects.toMatchObject({
      code: "AUTH_FAILED",
    });
  });

  it("streams ACKs only for durable proofs, pipelined, and they survive a restart", async () => {
    const key = keyOf("req-durable");
    const ref = p.channel(key, 1_000_000n);
    const { wire, frames, signer } = await raw("req-durable");
    open(wire, ref);
    for (let n = 1n; n <= 200n; n++) wire.send(pay(signer, ref, n, n * 10n));
    await until(() => frames.some((f) => f.type === "ACK" && f.nonce === 200n), 5000, "ACK 200");
    expect(frames.some((f) => f.type === "READY")).toBe(true);
    expect(errors(frames)).toEqual([]);
    wire.close();
    // The store holds what was acknowledged: reopen it in a second node on the same directory.
    await p.stop();
    const store = await ChannelStore.open(p.dir);
    const saved = await store.loadChannel(ref.channelId);
    await store.close();
    expect(saved?.received?.proof.nonce).toBe(200n);
    p = await startProvider(
      { limits: { authTimeoutMs: 300, rate: { perSecond: 2_000, burst: 500 } } },
      p.dir,
      p.chain,
    );
    p.node.on("session-closed", (e) => closed.push(e));
  });

  it("answers bad input with ERROR codes, changes nothing, and stays usable", async () => {
    const key = keyOf("req-bad");
    const ref = p.channel(key, 1_000n);
    const { wire, frames, signer } = await raw("req-bad");
    open(wire, ref);
    wire.send(pay(signer, ref, 1n, 10n));
    await until(() => frames.some((f) => f.type === "READY"), 5000, "READY");
    const mallory = createSigner(keyOf("mallory"));
    // (Frames that cannot be read close the socket: connection-guard.test.ts.)
    wire.send({ type: "AUTH_OK", signature: new Uint8Array(65) });
    wire.send(pay(signer, ref, 1n, 10n)); // replay
    wire.send(pay(mallory, ref, 2n, 20n)); // forged
    wire.send(pay(signer, ref, 3n, 5n)); // decreasing transfer
    wire.send(pay(signer, ref, 4n, 5_000n)); // more than the deposit
    await until(() => errors(frames).length >= 5, 5000, "5 errors");
    expect(errors(frames).sort()).toEqual(
      [
        "FRAME_UNEXPECTED",
        "NONCE_NOT_INCREASING",
        "SIGNER_MISMATCH",
        "TRANSFERRED_DECREASED",
        "BALANCE_NEGATIVE",
      ].sort(),
    );
    expect(p.node.channel(ref.channelId)?.received?.proof.nonce).toBe(1n);
    wire.send(pay(signer, ref, 5n, 20n));
    await until(() => frames.some((f) => f.type === "ACK" && f.nonce === 5n), 5000, "ACK 5");
    wire.close();
  });

  it("rate-limits a flood per connection and keeps serving after it", async () => {
    const { wire, frames } = await raw("req-flood");
    const junk = encodeFrame({ type: "AUTH_OK", signature: new Uint8Array(65) });
    for (let i = 0; i < 3_000; i++) wire.sendRaw(junk);
    await until(() => errors(frames).includes("RATE_LIMITED"), 5000, "RATE_LIMITED");
    const unknown = errors(frames).filter((c) => c === "FRAME_UNEXPECTED").length;
    expect(unknown).toBeLessThan(1_000);
    await sleep(300);
    const before = frames.length;
    wire.sendRaw(junk);
    await until(() => frames.length > before, 2000, "an answer after the flood");
    wire.close();
  });

  it("tears a session down after the credit window, never owed more than the limit", async () => {
    const key = keyOf("req-stop");
    const ref = p.channel(key, 1_000_000n);
    const client = await connect({ key, url: p.node.url });
    const session = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    const warns: number[] = [];
    session.on("warn", (w) => warns.push(w.teardownInMs));
    await sleep(1_200);
    session.stopPaying();
    const end = await session.closed;
    expect(end.code).toBe("CREDIT_EXHAUSTED");
    expect(warns.length).toBe(1);
    const e = closed.find((c) => c.sessionId === session.id)!;
    expect(e.maxUnpaid).toBeLessThanOrEqual(e.creditLimit);
    expect(e.closedAt - e.exhaustedAt!).toBeLessThanOrEqual(1_000);
    expect(e.paid).toBe(session.state.ackedTransferred - 0n);
    await client.close();
  });

  it("receives every proof once: READY's own payment is not sent again", async () => {
    const key = keyOf("req-once");
    const client = await connect({ key, url: p.node.url });
    const before = p.node.stats();
    const session = await client.openSession({
      channel: p.channel(key, 1_000_000n),
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    await until(() => session.ackedNonce >= 2n, 3_000, "ACK of the proof paid at READY");
    const after = p.node.stats();
    expect(after.proofsReceived - before.proofsReceived).toBe(2);
    expect(after.proofsRejected - before.proofsRejected).toBe(0);
    await session.close();
    await client.close();
  });

  it("resumes a session on the same channel after the socket drops", async () => {
    const key = keyOf("req-resume");
    const ref = p.channel(key, 1_000_000n);
    const client = await connect({ key, url: p.node.url, reconnect: { attempts: 5, delayMs: 50 } });
    const session = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
    });
    const id = session.id;
    await sleep(1_100);
    const ackedBefore = session.ackedNonce;
    client.dropConnection();
    await new Promise<void>((r) => client.once("reconnect", () => r()));
    await sleep(1_500);
    expect(session.id).toBe(id);
    expect(p.node.session(id)?.phase).toBe("active");
    expect(session.ackedNonce).toBeGreaterThan(ackedBefore);
    await session.close();
    await client.close();
  });

  it("lets a requester's new OPEN replace its own session that was never paid", async () => {
    const { wire, frames, signer } = await raw("re-opener");
    const ref = p.channel(keyOf("re-opener"), 1_000n);
    open(wire, ref); // never paid
    await sleep(100);
    open(wire, ref);
    wire.send(pay(signer, ref, 1n, 10n));
    await until(() => frames.some((f) => f.type === "READY"), 3_000, "READY");
    expect(errors(frames)).toEqual([]);
    wire.close();
  });

  it("refuses OPEN on someone else's channel and below the price", async () => {
    const ref = p.channel(keyOf("owner"), 1_000n);
    const { wire, frames } = await raw("intruder");
    open(wire, ref);
    const mine = p.channel(keyOf("intruder"), 1_000n);
    wire.send({
      type: "OPEN",
      channelId: mine.channelId,
      ref: mine.ref,
      dealId: "d",
      mode: "second",
      unitPrice: 1n,
      tunnelKind: "proxy",
      tunnelParams: {},
      prepayUnits: 1n,
      resume: null,
    });
    await until(() => errors(frames).length >= 2, 3000, "2 errors");
    expect(errors(frames)).toEqual(["CHANNEL_NOT_PARTICIPANT", "PRICE_TOO_LOW"]);
    wire.close();
  });

  it("answers an OPEN whose reference is another backend's, garbage, or another channel's with a code, and keeps serving", async () => {
    const key = keyOf("ref-tester");
    const mine = p.channel(key, 1_000n);
    const other = p.channel(key, 1_000n);
    // A channel of the same requester and provider on another in-memory chain: the same shape,
    // but not a channel of this one.
    const elsewhere = openOn(memoryChain(), keyOf("ref-elsewhere"), 1_000n);
    const { wire, frames, signer } = await raw("ref-tester");
    const refs: ChannelRef[] = [
      `0x${"12".repeat(80)}` as ChannelRef, // PaymentChannels' shape: a, b, salt, block
      "0x00" as ChannelRef,
      elsewhere.ref,
      other.ref, // open, but not the channel the OPEN names
    ];
    // One at a time: an OPEN of a channel being opened is refused as busy.
    for (const [i, ref] of refs.entries()) {
      open(wire, { ...mine, ref });
      await until(() => errors(frames).length > i, 3000, `OPEN ${i} answered`);
    }
    expect(errors(frames)).toEqual([
      "CHANNEL_REF_INVALID",
      "CHANNEL_REF_INVALID",
      "CHANNEL_UNKNOWN",
      "CHANNEL_REF_INVALID",
    ]);
    // Each named the channel it was about; the connection and the node go on.
    for (const f of frames) if (f.type === "ERROR") expect(f.ref).toBe(mine.channelId);
    open(wire, mine);
    wire.send(pay(signer, mine, 1n, 10n));
    await until(() => frames.some((f) => f.type === "READY"), 3_000, "READY");
    expect(errors(frames)).toHaveLength(refs.length);
    wire.close();
  });
});

describe("quotes, sessions on credit and confirmed closes", () => {
  it("quotes its terms, and refuses a mode, a tunnel kind or parameters it would refuse", async () => {
    const client = await connect({ key: keyOf("quoter"), url: p.node.url });
    await expect(client.quote({ mode: "byte", tunnel: { kind: "proxy" } })).resolves.toEqual({
      unitPrice: 1n,
      creditLimit: 16_384n,
      graceMs: 300,
      tickMs: 200,
      activateOnCredit: false,
    });
    const noSecond = await startProvider({ pricing: { byte: { unitPrice: 1n, creditLimit: 9n } } });
    const other = await connect({ key: keyOf("quoter"), url: noSecond.node.url });
    await expect(other.quote({ mode: "second", tunnel: { kind: "proxy" } })).rejects.toMatchObject({
      code: "MODE_UNSUPPORTED",
    });
    await expect(client.quote({ mode: "second", tunnel: { kind: "qos" } })).rejects.toMatchObject({
      code: "TUNNEL_UNAVAILABLE",
    });
    // The client is still usable after refusals.
    await expect(
      client.quote({ mode: "packet", tunnel: { kind: "proxy" } }),
    ).resolves.toMatchObject({
      unitPrice: 5n,
    });
    await other.close();
    await client.close();
    await noSecond.stop();
    removeDir(noSecond.dir);
  });

  it("opens on credit when its policy says so: nothing paid until resumed, risk within the credit", async () => {
    const onCredit = await startProvider({
      pricing: {
        second: { unitPrice: 10n, creditLimit: 20n, graceMs: 500, activateOnCredit: true },
      },
    });
    const ends: SessionClosedEvent[] = [];
    onCredit.node.on("session-closed", (e) => ends.push(e));
    const key = keyOf("on-credit");
    const client = await connect({ key, url: onCredit.node.url });
    const opts = {
      channel: onCredit.channel(key, 1_000n),
      mode: "second" as const,
      unitPrice: 10n,
      tunnel: { kind: "proxy" as const },
      startPaused: true,
    };
    // Paused and never resumed: the tunnel runs on credit, then goes.
    const idle = await client.openSession(opts);
    expect(idle.signed).toBe(0n);
    expect((await idle.closed).code).toBe("CREDIT_EXHAUSTED");
    const idleEnd = ends.find((e) => e.sessionId === idle.id)!;
    expect(idleEnd.paid).toBe(0n);
    expect(idleEnd.maxUnpaid).toBeLessThanOrEqual(idleEnd.creditLimit);
    // Resumed: it pays every started second and stays up.
    const paid = await client.openSession({ ...opts, channel: onCredit.channel(key, 1_000n) });
    paid.resumePaying();
    await sleep(2_300);
    expect(onCredit.node.session(paid.id)?.phase).toBe("active");
    expect(paid.ackedNonce).toBeGreaterThanOrEqual(2n);
    // A requester's close is answered once the tunnel is down.
    await paid.close();
    await paid.released;
    expect(onCredit.node.session(paid.id)).toBeUndefined();
    expect(ends.find((e) => e.sessionId === paid.id)?.code).toBe("CLOSED_BY_PEER");
    await client.close();
    await onCredit.stop();
    removeDir(onCredit.dir);
  });

  it("answers a session that fails before READY at once, with the channel as ref", async () => {
    // The default policy opens only on the first unit; a paused session never pays it.
    const strict = await startProvider({
      pricing: { second: { unitPrice: 10n, creditLimit: 20n, openTimeoutMs: 500 } },
    });
    const key = keyOf("never-pays");
    const client = await connect({ key, url: strict.node.url });
    const started = Date.now();
    const opened = client.openSession({
      channel: strict.channel(key, 1_000n),
      mode: "second",
      unitPrice: 10n,
      tunnel: { kind: "proxy" },
      startPaused: true,
      timeoutMs: 60_000,
    });
    // The node's open timeout ends it, and the requester hears of it then, not at its own.
    await expect(opened).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(Date.now() - started).toBeLessThan(3_000);
    await client.close();
    await strict.stop();
    removeDir(strict.dir);
  });
});
