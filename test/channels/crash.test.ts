/**
 * Crash safety with a real process: a receiving node is SIGKILLed in the middle of a stream of
 * proofs, restarted on the same directory, and must hold every proof it acknowledged, then
 * resume the channels (accept the next proofs, reject replays of acknowledged ones).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { alice, channelIdOf, domain } from "./helpers.ts";

const CHANNELS = 20;
const fixture = new URL("./fixtures/crash-node.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "tollway-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Node {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<Record<string, string>>;
  readonly lines: string[];
  onLine: (line: string) => void;
  readonly exited: Promise<number | null>;
}

function start(): Node {
  const child = spawn(process.execPath, [fixture, dir, String(CHANNELS)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  const node: Node = {
    child,
    lines: [],
    onLine: () => undefined,
    ready: new Promise((resolve, reject) => {
      child.once("exit", (code) =>
        reject(new Error(`node exited ${code} before READY: ${stderr}`)),
      );
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (line.startsWith("READY ")) resolve(JSON.parse(line.slice(6)));
        else {
          node.lines.push(line);
          node.onLine(line);
        }
      });
    }),
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
  return node;
}

/** The proof line of channel `n`, nonce `k` (transferred grows by 3 per proof). */
function proofLine(n: number, k: bigint): string {
  const proof = { channelId: channelIdOf(n), nonce: k, transferred: 3n * k };
  return `${n} ${k} ${3n * k} ${Buffer.from(alice.signBalanceProof(domain, proof)).toString("hex")}\n`;
}

describe("crash safety", () => {
  it("SIGKILL mid-stream loses no acknowledged proof, and the channels resume", async () => {
    const first = start();
    const restored0 = await first.ready;
    expect(Object.values(restored0).every((v) => v === "0")).toBe(true);

    // Stream many proofs; kill once enough have been acknowledged, long before the stream ends.
    const total = 12_000;
    const acked = new Map<number, bigint>();
    let ackCount = 0;
    const killed = new Promise<void>((resolve) => {
      first.onLine = (line) => {
        const [kind, n, k] = line.split(" ");
        if (kind !== "ACK") return;
        const prev = acked.get(Number(n)) ?? 0n;
        if (BigInt(k!) > prev) acked.set(Number(n), BigInt(k!));
        if (++ackCount === 800) {
          first.child.kill("SIGKILL");
          resolve();
        }
      };
    });
    const perChannel = total / CHANNELS;
    let buffered = "";
    for (let k = 1n; k <= BigInt(perChannel); k++) {
      for (let n = 0; n < CHANNELS; n++) buffered += proofLine(n, k);
      if (buffered.length > 64_000) {
        if (!first.child.stdin.write(buffered))
          await new Promise((r) => first.child.stdin.once("drain", r));
        buffered = "";
      }
      if (first.child.killed) break;
    }
    if (!first.child.killed) first.child.stdin.write(buffered);
    await killed;
    expect(await first.exited).toBe(null); // killed by signal
    expect(first.lines).not.toContain("BYE");
    const lastAcked = first.lines.filter((l) => l.startsWith("ACK")).length;
    expect(lastAcked).toBeGreaterThanOrEqual(800);
    expect(lastAcked).toBeLessThan(total); // it really died mid-stream

    // Restart on the same directory: every acknowledged proof is there.
    const second = start();
    const restored = await second.ready;
    for (const [n, nonce] of acked) {
      const got = BigInt(restored[channelIdOf(n)]!);
      expect({ n, got: got >= nonce }).toEqual({ n, got: true });
    }

    // The channels resume: the next proof of each is accepted; a replayed acknowledged one is not.
    const done = new Promise<void>((resolve) => {
      second.onLine = (line) => {
        if (line === "BYE") resolve();
      };
    });
    let input = "";
    for (let n = 0; n < CHANNELS; n++) {
      const next = BigInt(restored[channelIdOf(n)]!) + 1n;
      input += proofLine(n, next);
    }
    const [replayN, replayK] = [...acked.entries()][0]!;
    input += proofLine(replayN, replayK);
    second.child.stdin.end(input);
    await done;
    expect(await second.exited).toBe(0);
    const acks = second.lines.filter((l) => l.startsWith("ACK"));
    expect(acks).toHaveLength(CHANNELS);
    expect(second.lines).toContain(`REJECT ${replayN} ${replayK} NONCE_NOT_INCREASING`);
  }, 90_000);
});
