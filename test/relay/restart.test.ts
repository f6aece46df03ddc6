/**
 * Restarts and credit, live against a provider node in this process: credit is the channel's
 * (a session opens owing its channel's debt, also after the node restarts), nothing is signed
 * before the provider accepted the OPEN it pays for, a requester back on a new connection
 * replaces its old session instead of being locked out by it, and a session the provider lost
 * is opened again on the same channel (or ends with a code the caller sees).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import { ChannelStore } from "../../channels/store/channel-store.ts";
import { isRelayError } from "../../relay/errors.ts";
import type { SessionClosedEvent } from "../../relay/provider/index.ts";
import { connect } from "../../relay/requester/client.ts";
import { openWireConnection } from "../../relay/requester/wire-connection.ts";
import type { AcceptFrame, Frame } from "../../relay/wire/frames.ts";
import {
  domain,
  keyOf,
  providerAddress,
  removeDir,
  sleep,
  startProvider,
  type TestProvider,
  until,
} from "./helpers.ts";

const PRICE = 10n;
const CREDIT = 20n;
const pricing = {
  second: { unitPrice: PRICE, creditLimit: CREDIT, graceMs: 300, openTimeoutMs: 600 },
};

let p: TestProvider;
const closed: SessionClosedEvent[] = [];
const track = (t: TestProvider) => t.node.on("session-closed", (e) => closed.push(e));
beforeAll(async () => {
  p = await startProvider({ pricing });
  track(p);
});
afterAll(async () => {
  await p.stop();
  removeDir(p.dir);
});

/** A raw authenticated connection of `label`'s key that records every frame. */
async function raw(label: string) {
  const signer = createSigner(keyOf(label));
  const wire = await openWireConnection({ url: p.node.url, signer, domain });
  const frames: Frame[] = [];
  wire.onFrame = (f) => frames.push(f);
  return { wire, frames, signer };
}

function openFrame(ref: ReturnType<TestProvider["channel"]>): Frame {
  return {
    type: "OPEN",
    channelId: ref.channelId,
    ref: ref.ref,
    dealId: "d",
    mode: "second",
    unitPrice: PRICE,
    tunnelKind: "proxy",
    tunnelParams: {},
    prepayUnits: 1n,
    resume: null,
  };
}

/** Drops a client's socket and waits until the node has seen it go. */
async function dropped(drop: () => void): Promise<void> {
  const before = p.node.stats().connections;
  drop();
  await until(() => p.node.stats().connections < before, 3_000, "the socket closed");
}

const accepted = (frames: Frame[]) =>
  frames.filter((f): f is AcceptFrame => f.type === "ACCEPT").at(-1);

describe("credit per channel", () => {
  it("a new session owes what the channel's last one left unpaid, also after a restart", async () => {
    const label = "cycler";
    const ref = p.channel(keyOf(label), 1_000_000n);
    const id = ref.channelId;
    const debtOf = () => {
      const ended = closed.filter((e) => e.channelId === id).at(-1);
      const held = p.node.channel(id)?.received?.proof.transferred ?? 0n;
      return ended === undefined ? 0n : ended.billed - held;
    };
    // A requester that pays one unit per session and then stops, on a new connection each time
    // (as one that restarts would): before, each session had a window of its own.
    let nonce = 0n;
    let transferred = 0n;
    let readies = 0;
    for (let cycle = 0; cycle < 4; cycle++) {
      const { wire, frames, signer } = await raw(label);
      wire.send(openFrame(ref));
      await until(() => accepted(frames) !== undefined, 3_000, "ACCEPT");
      const a = accepted(frames)!;
      expect(a.billed - a.ackedTransferred).toBe(debtOf());
      nonce++;
      transferred += PRICE;
      const proof = { channelId: id, nonce, transferred };
      wire.send({ type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) });
      const before = closed.length;
      await until(() => closed.length > before, 8_000, "the session's end");
      if (frames.some((f) => f.type === "READY")) readies++;
      expect(debtOf()).toBeLessThanOrEqual(CREDIT);
      wire.close();
    }
    // The second and third sessions paid off what the first left and got no tunnel; only then
    // did the fourth (before: every session got one, 12 units owed for 4 paid).
    expect(readies).toBe(2);
    const debt = debtOf();
    expect(debt).toBeGreaterThan(0n);

    // The debt is the channel's: a restarted node still bills it.
    await p.stop();
    p = await startProvider({ pricing }, p.dir, p.chain);
    track(p);
    const { wire, frames, signer } = await raw(label);
    wire.send(openFrame(ref));
    await until(() => accepted(frames) !== undefined, 3_000, "ACCEPT after the restart");
    const a = accepted(frames)!;
    expect(a.billed - a.ackedTransferred).toBe(debt);
    // Paying the debt and a unit opens the tunnel.
    const proof = { channelId: id, nonce: nonce + 1n, transferred: a.billed + PRICE };
    wire.send({ type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) });
    await until(() => frames.some((f) => f.type === "READY"), 3_000, "READY");
    wire.close();
  });

  it("the SDK pays a debt its channel carries with its first payment, and only that", async () => {
    const key = keyOf("sdk-debtor");
    const ref = p.channel(key, 1_000_000n);
    const client = await connect({ key, url: p.node.url });
    const opts = {
      channel: ref,
      mode: "second" as const,
      unitPrice: PRICE,
      tunnel: { kind: "proxy" as const },
    };
    const first = await client.openSession(opts);
    first.stopPaying();
    expect((await first.closed).code).toBe("CREDIT_EXHAUSTED");
    await expect(first.done).rejects.toMatchObject({ code: "CREDIT_EXHAUSTED" });
    const end = closed.find((e) => e.sessionId === first.id)!;
    const signedBefore = first.signed;
    expect(end.billed).toBeGreaterThan(signedBefore);
    // A requester that caps what it pays for an earlier session's debt.
    await expect(client.openSession({ ...opts, maxDebt: 1n })).rejects.toMatchObject({
      code: "DEBT_TOO_HIGH",
    });
    expect(client.channel(ref.channelId)!.sent!.proof.transferred).toBe(signedBefore);
    const second = await client.openSession(opts);
    // The debt, the first second and the one ahead at READY.
    expect(second.signed).toBe(end.billed + 2n * PRICE);
    await second.close();
    await expect(second.done).resolves.toMatchObject({ code: "CLOSED_LOCALLY" });
    await client.close();
  });
});

describe("restarts", () => {
  it("signs nothing for an OPEN the provider refuses, however often it is retried", async () => {
    const key = keyOf("retrier");
    const ref = p.channel(key, 1_000_000n);
    const client = await connect({ key, url: p.node.url });
    for (let i = 0; i < 3; i++) {
      await expect(
        client.openSession({
          channel: ref,
          mode: "second",
          unitPrice: PRICE - 1n,
          tunnel: { kind: "proxy" },
        }),
      ).rejects.toMatchObject({ code: "PRICE_TOO_LOW" });
    }
    expect(client.channel(ref.channelId)?.sent ?? null).toBeNull();
    await client.close();
  });

  it("a requester on a new connection replaces its old session instead of being locked out", async () => {
    const key = keyOf("restarter");
    const ref = p.channel(key, 1_000_000n);
    const opts = {
      channel: ref,
      mode: "second" as const,
      unitPrice: PRICE,
      tunnel: { kind: "proxy" as const },
    };
    // The first process is gone without a word (no reconnect, no CLOSE); the second comes back
    // on its channel store.
    const storeDir = mkdtempSync(join(tmpdir(), "tollway-restarter-"));
    const store = await ChannelStore.open(storeDir);
    const gone = await connect({
      key,
      url: p.node.url,
      store,
      reconnect: { attempts: 0, delayMs: 1 },
    });
    const old = await gone.openSession(opts);
    await sleep(300);
    await dropped(() => gone.dropConnection());
    expect(p.node.session(old.id)?.phase).toBe("active");

    const back = await connect({ key, url: p.node.url, store });
    const fresh = await back.openSession(opts);
    expect(fresh.id).not.toBe(old.id);
    expect(p.node.session(old.id)).toBeUndefined();
    expect(closed.find((e) => e.sessionId === old.id)?.code).toBe("SESSION_REPLACED");
    expect(p.node.session(fresh.id)?.phase).toBe("active");
    // On the connection that holds a running session, a second OPEN is still a mistake.
    const other = p.channel(key, 1_000n);
    const { wire, frames, signer } = await raw("restarter");
    wire.send(openFrame(other));
    const proof = { channelId: other.channelId, nonce: 1n, transferred: PRICE };
    wire.send({ type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) });
    await until(() => frames.some((f) => f.type === "READY"), 3_000, "READY");
    wire.send(openFrame(other));
    await until(() => frames.some((f) => f.type === "ERROR"), 3_000, "SESSION_BUSY");
    expect(frames.find((f) => f.type === "ERROR")).toMatchObject({ code: "SESSION_BUSY" });
    wire.close();
    await back.close();
    await gone.close();
    await store.close();
    removeDir(storeDir);
  });

  it("opens a session the provider lost again on the same channel, and stops paying meanwhile", async () => {
    const key = keyOf("lost-session");
    const ref = p.channel(key, 1_000_000n);
    const client = await connect({
      key,
      url: p.node.url,
      reconnect: { attempts: 20, delayMs: 300 },
    });
    const session = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: PRICE,
      tunnel: { kind: "proxy" },
      payEveryMs: 50,
    });
    const events: string[] = [];
    session.on("resuming", (r) => events.push(`resuming ${r.code}`));
    session.on("resumed", (r) => events.push(`resumed ${r.fresh}`));
    const firstId = session.id;
    await sleep(1_100);
    // The session goes while the requester is away, as it does when the node restarts.
    const rejected = p.node.stats().proofsRejected;
    const wait = new Promise<void>((r) => client.once("reconnect", () => r()));
    await dropped(() => client.dropConnection());
    p.node.closeSession(firstId, "lost");
    await wait;
    await until(() => events.includes("resumed true"), 5_000, "a new session");
    expect(events.slice(0, 2)).toEqual(["resuming CONNECTION_LOST", "resuming SESSION_UNKNOWN"]);
    expect(session.id).not.toBe(firstId);
    expect(p.node.session(session.id)?.phase).toBe("active");
    await sleep(1_100);
    expect(session.ackedNonce).toBeGreaterThan(0n);
    // Nothing was paid into the void: every proof signed reached the node and was taken.
    expect(p.node.stats().proofsRejected).toBe(rejected);
    await session.close();
    await until(() => closed.some((e) => e.sessionId === session.id), 3_000, "the close");
    const end = closed.find((e) => e.sessionId === session.id)!;
    expect(client.channel(ref.channelId)!.sent!.proof.transferred).toBeLessThanOrEqual(
      end.billed + CREDIT,
    );
    await client.close();
  });

  it("ends a session it cannot take back with the provider's code: an event and a rejection", async () => {
    const key = keyOf("refused-back");
    const ref = p.channel(key, 1_000_000n);
    const client = await connect({
      key,
      url: p.node.url,
      reconnect: { attempts: 20, delayMs: 300 },
    });
    const session = await client.openSession({
      channel: ref,
      mode: "second",
      unitPrice: PRICE,
      tunnel: { kind: "proxy" },
    });
    const wait = new Promise<void>((r) => client.once("reconnect", () => r()));
    await dropped(() => client.dropConnection());
    p.node.closeSession(session.id, "lost");
    // Meanwhile the provider closes the channel on chain: it is no longer open to pay on.
    p.chain.execute(providerAddress, {
      type: "ChainSendClose",
      channelId: ref.channelId,
      proof: null,
    });
    await wait;
    const end = await session.closed;
    expect(end.code).toBe("CHANNEL_UNKNOWN");
    const err = await session.done.catch((e: unknown) => e);
    expect(isRelayError(err, "CHANNEL_UNKNOWN")).toBe(true);
    await client.close();
  });
});
