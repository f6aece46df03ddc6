/** Sample frames of every type (wire tests, fuzzing). */
import type { ChannelRef } from "../../channels/settlement/channel-ref.ts";
import type { ChannelId } from "../../channels/types.ts";
import type { Frame } from "../../relay/wire/frames.ts";

export const cid = `0x${"ab".repeat(32)}` as ChannelId;
export const addr = `0x${"12".repeat(20)}` as const;
export const sig = new Uint8Array(65).fill(7);
export const MAX = (1n << 256n) - 1n;

export const SAMPLES: Frame[] = [
  {
    type: "HELLO",
    version: 1,
    chainId: 31337n,
    contract: addr,
    provider: addr,
    nonce: new Uint8Array(32).fill(1),
  },
  { type: "AUTH", requester: addr, nonce: new Uint8Array(32).fill(2), signature: sig },
  { type: "AUTH_OK", signature: sig.subarray(0, 64) },
  {
    type: "OPEN",
    channelId: cid,
    ref: `0x${"cd".repeat(80)}` as ChannelRef,
    dealId: "deal-1",
    mode: "byte",
    unitPrice: 10n ** 30n,
    tunnelKind: "proxy",
    tunnelParams: { a: "x", b: 3 },
    prepayUnits: 5n,
    resume: null,
  },
  {
    type: "READY",
    channelId: cid,
    sessionId: "abc",
    tunnel: { host: "127.0.0.1", port: 1 },
    creditLimit: 5n,
    tickMs: 1000,
    ackedNonce: 3n,
    ackedTransferred: 30n,
    base: 0n,
  },
  {
    type: "ACCEPT",
    channelId: cid,
    sessionId: "abc",
    ackedNonce: 3n,
    ackedTransferred: 30n,
    billed: MAX,
  },
  { type: "PAY", channelId: cid, nonce: (1n << 64n) - 1n, transferred: MAX, signature: sig },
  { type: "ACK", channelId: cid, nonce: 1n, transferred: 2n, owed: 3n },
  { type: "USAGE", sessionId: "s", units: 12n, owed: 120n },
  { type: "WARN", sessionId: "s", teardownInMs: 900, unpaid: 20n },
  { type: "CLOSE", sessionId: "s", code: "CREDIT_EXHAUSTED", reason: "bye" },
  { type: "ERROR", code: "NONCE_NOT_INCREASING", message: "m", ref: cid },
  { type: "SETTLE_PROPOSE", channelId: cid, payoutA: 1n, payoutB: 2n, signature: sig },
  { type: "SETTLE_SIGN", channelId: cid, payoutA: 1n, payoutB: 2n, signature: sig },
  {
    type: "QUOTE",
    quoteId: "q1",
    mode: "second",
    tunnelKind: "qos",
    tunnelParams: { dst: "10.0.0.2", rateKbit: 8000 },
  },
  {
    type: "QUOTE_OK",
    quoteId: "q1",
    unitPrice: 10n,
    creditLimit: 20n,
    graceMs: 1000,
    tickMs: 1000,
    activateOnCredit: true,
  },
];
