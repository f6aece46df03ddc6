/**
 * Hostile flags and config files: every bad value is a typed error with a code and a non-zero
 * exit, never a stack trace without --verbose, and never reaches the chain (the RPC here is a
 * closed port: a value that got past the checks would show up as RPC_UNREACHABLE).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatUnits } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MAX_SETTLE_WINDOW_SECONDS,
  MIN_SETTLE_WINDOW_SECONDS,
} from "../../../channels/chain/index.ts";
import { loadConfig } from "../../../engine/cli/context.ts";
import { CliError } from "../../../engine/cli/errors.ts";
import {
  MAX_DEPOSIT_UNITS,
  parseInteger,
  parseTokens,
  parseWindow,
} from "../../../engine/cli/flags.ts";
import { runCli } from "../../../engine/cli/program.ts";

const DEAD_RPC = "http://127.0.0.1:9";
const PARTNER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollway-fuzz-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Values people and scripts get wrong, plus random text. */
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    "0",
    "0.0",
    "-1",
    "-0.5",
    "+1",
    "1e3",
    "1E-3",
    "0x10",
    "0b1",
    "1_000",
    " 1",
    "1 ",
    "1.",
    ".5",
    "1,5",
    "NaN",
    "Infinity",
    "__proto__",
    "toString",
    "constructor",
    "hasOwnProperty",
    "9".repeat(200),
    `1.${"1".repeat(19)}`,
    "5192296858534827.628530496329220096",
    "",
  ),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.double().map(String),
);

async function cli(argv: string[]) {
  let out = "";
  let err = "";
  const code = await runCli(["node", "tollway", ...argv], {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

/** The one JSON error line of a failed `--json` run. */
function jsonError(err: string): { code: string; message: string } {
  const lines = err.trim().split("\n");
  expect(lines).toHaveLength(1);
  return (JSON.parse(lines[0]!) as { error: { code: string; message: string } }).error;
}

describe("flag parsers", () => {
  it("never throw; what they accept is in bounds and is what was written", () => {
    fc.assert(
      fc.property(hostileText, (raw) => {
        const t = parseTokens("--amount", raw);
        if (t.ok) {
          expect(t.value).toBeGreaterThan(0n);
          expect(t.value).toBeLessThanOrEqual(MAX_DEPOSIT_UNITS);
          expect(raw).toMatch(/^\d+(\.\d{1,18})?$/);
        } else expect(t).toMatchObject({ code: "BAD_FLAG", details: { flag: "--amount" } });
        const w = parseWindow("--window", raw);
        if (w.ok) {
          expect(w.value).toBeGreaterThanOrEqual(MIN_SETTLE_WINDOW_SECONDS);
          expect(w.value).toBeLessThanOrEqual(MAX_SETTLE_WINDOW_SECONDS);
          expect(String(w.value)).toBe(raw.replace(/^0+(?=\d)/, ""));
        }
        const n = parseInteger("--seconds", raw, 1, 86_400);
        if (n.ok) expect(Number.isInteger(n.value) && n.value >= 1 && n.value <= 86_400).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it("take non-strings (config values) without throwing", () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== "string"),
        (v) => {
          expect(parseTokens("x", v).ok).toBe(false);
          parseInteger("x", v, 0, 10);
          parseWindow("x", v);
        },
      ),
    );
  });

  it("read back any amount they print, to the token's last decimal", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX_DEPOSIT_UNITS }), (units) => {
        const written = formatUnits(units, 18);
        expect(parseTokens("--amount", written)).toEqual({ ok: true, value: units });
      }),
    );
  });

  it("refuse the inputs the tester found, in tokens", () => {
    expect(parseTokens("--amount", "0")).toMatchObject({
      ok: false,
      code: "BAD_FLAG",
      details: { flag: "--amount" },
    });
    expect(parseTokens("--amount", "1.5", { decimals: 0, symbol: "T" })).toMatchObject({
      ok: false,
    });
    expect(parseWindow("--window", "9").ok).toBe(false);
    expect(parseWindow("--window", "16777215").ok).toBe(false);
    expect(parseWindow("--window", String(30 * 24 * 3600)).ok).toBe(true);
  });
});

describe("the command line under hostile flags", () => {
  const commands: ((v: string) => string[])[] = [
    (v) => ["channel", "open", "--partner", PARTNER, "--amount", v],
    (v) => ["channel", "open", "--partner", PARTNER, "--amount", "1", "--window", v],
    (v) => ["channel", "topup", `0x${"ab".repeat(32)}`, "--amount", v],
    (v) => ["channel", "dispute", "--interval", v],
    (v) => ["channel", "close", v],
    (v) => ["provider", "--market", "http://127.0.0.1:9", "--price", v],
    (v) => ["provider", "--market", "http://127.0.0.1:9", "--credit-seconds", v],
    (v) => [
      "requester",
      "--market",
      "http://127.0.0.1:9",
      "--provider",
      "ws://127.0.0.1:9",
      "--target",
      "http://127.0.0.1:9/",
      "--deposit",
      v,
    ],
    (v) => [
      "requester",
      "--market",
      "http://127.0.0.1:9",
      "--provider",
      "ws://127.0.0.1:9",
      "--target",
      "http://127.0.0.1:9/",
      "--window",
      v,
    ],
    (v) => [
      "requester",
      "--market",
      "http://127.0.0.1:9",
      "--provider",
      "ws://127.0.0.1:9",
      "--target",
      "http://127.0.0.1:9/",
      "--seconds",
      v,
    ],
    (v) => ["--dev-account", v, "channel", "list"],
    (v) => ["--chain-id", v, "channel", "list"],
  ];
  const isBad = (i: number, v: string): boolean => {
    switch (i) {
      case 0:
      case 2:
      case 7:
        return !parseTokens("x", v).ok;
      case 5:
        return !parseTokens("x", v, undefined, 2n ** 256n).ok;
      case 1:
      case 8:
        return !parseWindow("x", v).ok;
      case 3:
        return !parseInteger("x", v, 100, 3_600_000).ok;
      case 4:
        return !/^0x[0-9a-fA-F]{64}$/.test(v);
      case 6:
        return !parseInteger("x", v, 1, 3600).ok;
      case 9:
        return !parseInteger("x", v, 1, 86_400).ok;
      case 10:
        return !/^\d{1,2}$/.test(v) || Number(v) > 19;
      default:
        return !/^[1-9]\d*$/.test(v);
    }
  };

  it("refuses every bad value with a typed code and a non-zero exit, before touching the chain", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: commands.length - 1 }),
        hostileText.filter((v) => !v.includes("\0")),
        async (i, v) => {
          fc.pre(isBad(i, v));
          const r = await cli([
            "--rpc",
            DEAD_RPC,
            "--data-dir",
            dir,
            "--dev-account",
            "1",
            "--json",
            ...commands[i]!(v),
          ]);
          expect(r.code).not.toBe(0);
          const e = jsonError(r.err);
          expect(["BAD_FLAG", "BAD_CONFIG"]).toContain(e.code);
          expect(r.err).not.toContain("    at ");
          expect(r.out).toBe("");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("as a real process: one line on stderr, exit 2, no stack trace without --verbose", async () => {
    const cases = [
      ["channel", "open", "--partner", PARTNER, "--amount", "0"],
      ["channel", "open", "--partner", PARTNER, "--amount", "1e18"],
      ["channel", "open", "--partner", PARTNER, "--amount", "1", "--window", "5"],
      ["channel", "open", "--partner", PARTNER, "--amount", "1", "--window", "16777215"],
      [
        "requester",
        "--market",
        "http://x/",
        "--provider",
        "ws://x/",
        "--target",
        "http://x/",
        "--deposit",
        "0x10",
      ],
      ["channel", "open", "--partner", "__proto__", "--amount", "1"],
    ];
    for (const args of cases) {
      const r = await new Promise<{ code: number; err: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            "engine/cli/bin.ts",
            "--rpc",
            DEAD_RPC,
            "--data-dir",
            dir,
            "--dev-account",
            "1",
            ...args,
          ],
          (error, _o, stderr) => resolve({ code: error ? (error.code as number) : 0, err: stderr }),
        );
      });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/^tollway: [^\n]+\n$/);
    }
  });
});

describe("the config file under hostile content", () => {
  const hostileJson = fc.oneof(
    fc.json({ maxDepth: 6 }),
    fc
      .dictionary(
        fc.constantFrom(
          "rpc",
          "channels",
          "chainId",
          "dataDir",
          "keystore",
          "devAccount",
          "__proto__",
          "toString",
          "constructor",
        ),
        fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileText),
      )
      .map((o) => JSON.stringify(o)),
    fc.constantFrom(
      '{"__proto__":{"rpc":"http://x"}}',
      '{"devAccount":true}',
      '{"chainId":[5]}',
      '{"dataDir":5}',
      '{"dataDir":""}',
      '{"devAccount":"1e1"}',
      '{"chainId":1e400}',
      `${"[".repeat(100000)}${"]".repeat(100000)}`,
      "null",
      "[]",
      '"x"',
      "{",
      "",
    ),
  );

  it("resolves to a valid configuration or fails with BAD_CONFIG, nothing else", async () => {
    const file = join(dir, "config.json");
    await fc.assert(
      fc.asyncProperty(hostileJson, async (text) => {
        await writeFile(file, text);
        try {
          const c = await loadConfig({ config: file }, {});
          expect(typeof c.rpc).toBe("string");
          expect(typeof c.dataDir).toBe("string");
          expect(
            c.devAccount === undefined || (Number.isInteger(c.devAccount) && c.devAccount <= 19),
          ).toBe(true);
          expect(c.chainId === undefined || c.chainId > 0n).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(CliError);
          expect((err as CliError).code).toBe("BAD_CONFIG");
          expect((err as CliError).shortMessage).not.toContain("\n");
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it("through the CLI: a JSON error with code BAD_CONFIG and exit 2", async () => {
    const file = join(dir, "bad.json");
    for (const text of [
      '{"dataDir":5}',
      '{"__proto__":1}',
      "{",
      '{"devAccount":true}',
      "x".repeat(70_000),
    ]) {
      await writeFile(file, text);
      const r = await cli(["--json", "--config", file, "channel", "list"]);
      expect(r.code).toBe(2);
      expect(jsonError(r.err).code).toBe("BAD_CONFIG");
    }
  });
});
