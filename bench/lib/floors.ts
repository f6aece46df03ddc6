/**
 * What this machine can do at the bottom of a provider's path, measured in the bench's own run:
 * one balance-proof verification on one core, one synced store write, one loopback round trip.
 * A bench reports its figures beside these and as ratios to them, so that runs on machines of
 * other speeds compare.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { WebSocket, WebSocketServer } from "ws";
import { eip712Domain } from "../../channels/crypto/eip712.ts";
import { loadBackend } from "../../channels/crypto/load-backend.ts";
import { createSigner } from "../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../channels/crypto/verifier.ts";
import { asChannelId } from "../../channels/types.ts";

export interface Floors {
  /** Balance proofs one thread verifies a second (native backend, cached key, digest included). */
  readonly verifyPerSecPerCore: number;
  /** Median of one `put` with `sync: true` into a level db on this disk, ms. */
  readonly syncedWriteMs: number;
  /** Median round trip of one small WebSocket message over loopback, ms. */
  readonly loopbackRttMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function verifyRate(ms: number): number {
  const backend = loadBackend("native");
  const signer = createSigner(createHash("sha256").update("bench:floor").digest(), backend);
  const dom = eip712Domain({
    chainId: 31337n,
    verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  });
  const proofs = Array.from({ length: 256 }, (_, i) => ({
    channelId: asChannelId(`0x${(i + 1).toString(16).padStart(64, "0")}`),
    nonce: BigInt(i + 1),
    transferred: BigInt(i + 1),
  }));
  const sigs = proofs.map((p) => signer.signBalanceProof(dom, p));
  const verifier = new ProofVerifier({ backend, mode: "cached-key" });
  const check = (i: number) => {
    const k = i & 255;
    if (!verifier.verifyBalanceProof(dom, proofs[k]!, sigs[k]!, signer.address).ok) {
      throw new Error("floor: a proof failed verification");
    }
  };
  for (let i = 0; i < 256; i++) check(i);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) for (let k = 0; k < 25; k++) check(n++);
  return Math.round(n / ((performance.now() - start) / 1000));
}

async function syncedWrite(writes: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "tollway-floor-"));
  const db = new ClassicLevel<string, string>(dir);
  try {
    await db.open();
    const times: number[] = [];
    for (let i = 0; i < writes; i++) {
      const t = performance.now();
      await db.put(`k${i}`, "v".repeat(128), { sync: true });
      times.push(performance.now() - t);
    }
    return Math.round(median(times) * 1000) / 1000;
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function loopbackRtt(trips: number): Promise<number> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (ws) => ws.on("message", (m) => ws.send(m)));
  await new Promise<void>((r) => server.once("listening", () => r()));
  const { port } = server.address() as { port: number };
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise<void>((r, j) => ws.once("open", () => r()).once("error", j));
  const payload = Buffer.alloc(128);
  const times: number[] = [];
  try {
    for (let i = 0; i < trips; i++) {
      const t = performance.now();
      await new Promise<void>((r) => {
        ws.once("message", () => r());
        ws.send(payload);
      });
      times.push(performance.now() - t);
    }
  } finally {
    ws.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  }
  return Math.round(median(times) * 1000) / 1000;
}

/** Measures the three floors (about a second in all). */
export async function measureFloors(): Promise<Floors> {
  return {
    verifyPerSecPerCore: verifyRate(500),
    syncedWriteMs: await syncedWrite(200),
    loopbackRttMs: await loopbackRtt(2_000),
  };
}

/** `value / floor`, to three significant decimals. */
export const ratio = (value: number, floor: number): number =>
  Math.round((value / floor) * 1000) / 1000;
