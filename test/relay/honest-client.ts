/** The check every hostile-input test ends with: an honest requester is still served in full. */
import { expect } from "vitest";
import { createSigner } from "../../channels/crypto/signer.ts";
import type { SessionChannel } from "../../relay/requester/client.ts";
import { openWireConnection } from "../../relay/requester/wire-connection.ts";
import type { Frame } from "../../relay/wire/frames.ts";
import { domain, keyOf, type TestProvider, until } from "./helpers.ts";

let honest = 0;

/** A provider somewhere (in this process or another) that can be given a channel. */
export interface HonestTarget {
  readonly url: string;
  channel(requesterKey: Uint8Array, depositA: bigint): SessionChannel | Promise<SessionChannel>;
}

/**
 * Connects a fresh requester with a fresh channel, authenticates, opens a session, pays its first
 * unit and waits for READY and the ACK of that payment.
 * It connects from 127.0.0.1, which the hostile tests keep apart from their own addresses.
 */
export async function expectHonestClientServed(
  p: TestProvider | HonestTarget,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const target = "node" in p ? { url: p.node.url, channel: p.channel } : p;
  const key = keyOf(`honest-${honest++}-${process.pid}`);
  const signer = createSigner(key);
  const ref = await target.channel(key, 1_000_000n);
  const wire = await openWireConnection({ url: target.url, signer, domain });
  const frames: Frame[] = [];
  wire.onFrame = (f) => frames.push(f);
  try {
    wire.send({
      type: "OPEN",
      channelId: ref.channelId,
      ref: ref.ref,
      dealId: "honest",
      mode: "packet",
      unitPrice: 5n,
      tunnelKind: "proxy",
      tunnelParams: {},
      prepayUnits: 1n,
      resume: null,
    });
    const proof = { channelId: ref.channelId, nonce: 1n, transferred: 5n };
    wire.send({ type: "PAY", ...proof, signature: signer.signBalanceProof(domain, proof) });
    await until(
      () =>
        frames.some((f) => f.type === "READY") &&
        frames.some((f) => f.type === "ACK" && f.nonce === 1n),
      opts.timeoutMs ?? 5_000,
      "READY and ACK for the honest client",
    );
    expect(frames.filter((f) => f.type === "ERROR")).toEqual([]);
  } finally {
    wire.close();
  }
}
