import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      "engine/cli/bin.ts",
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe("tollway CLI", () => {
  it("--help lists the commands that exist", async () => {
    const r = await run("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: tollway");
    expect(r.stdout).toMatch(/bench .*gas/);
  });

  it("a bad flag or an unknown benchmark is one line on stderr and a non-zero exit", async () => {
    const bad = await run("--bogus");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse((await run("--bogus", "--json")).stderr)).toMatchObject({
      error: { code: "BAD_FLAG" },
    });
    const unknown = await run("bench", "nope");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
    const json = await run("bench", "nope", "--json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: { code: "BAD_FLAG", details: { benchmark: "nope" } },
    });
  });

  it("runs a benchmark and passes --json through", async () => {
    const r = await run("bench", "gas", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty("openWithDeposit");
  });
});
