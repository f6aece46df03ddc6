/**
 * The `market` command's own flags: any value that is not an integer in range is refused with
 * a one-line BAD_FLAG message and exit code 2 before anything starts (no chain is asked, no
 * port is opened, no journal is created).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../engine/cli/program.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-market-flags-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const FLAGS: readonly [string, number][] = [
  ["--port", 65_535],
  ["--max-orders-per-owner", 2 ** 31],
  ["--ip-rate", 2 ** 31],
  ["--key-rate", 2 ** 31],
  ["--snapshot-every", 2 ** 31],
  ["--snapshot-seconds", 86_400],
  ["--chain-timeout", 600_000],
];

describe("market command flags", () => {
  it("refuses every value that is not an integer in range, with BAD_FLAG and exit code 2", async () => {
    const bad = fc.oneof(
      fc.string().filter((s) => !/^\d+$/.test(s)),
      fc.constantFrom("toString", "__proto__", "-1", "1e3", "0x10", " 1", "1.5", "NaN", "Infinity"),
      fc.bigInt({ min: 2n ** 31n + 1n, max: 2n ** 80n }).map(String),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FLAGS), bad, async ([flag], value) => {
        let err = "";
        const code = await runCli(
          [
            "node",
            "tollway",
            "--json",
            "--rpc",
            "http://127.0.0.1:9",
            "--data-dir",
            dir,
            "market",
            `${flag}=${value}`,
          ],
          { out: () => undefined, err: (s) => (err += s) },
        );
        expect(code).toBe(2);
        expect(err.trim().split("\n")).toHaveLength(1);
        expect(JSON.parse(err)).toMatchObject({ error: { code: "BAD_FLAG", details: { flag } } });
      }),
      { numRuns: 120 },
    );
    expect(existsSync(join(dir, "market"))).toBe(false);
  });
});
