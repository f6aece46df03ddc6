import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

/** Every custom error the contracts declare is asserted by name somewhere in test/contracts. */
describe("custom errors", () => {
  it("each one is reached by a test", async () => {
    const dir = new URL("./", import.meta.url);
    const tests = (await readdir(dir)).filter(
      (n) => n.endsWith(".test.ts") && n !== "errors-covered.test.ts",
    );
    const text = (await Promise.all(tests.map((n) => readFile(new URL(n, dir), "utf8")))).join(
      "\n",
    );
    const declared: string[] = [];
    for (const name of ["IPaymentChannels", "Token"]) {
      const sol = await readFile(new URL(`../../contracts/${name}.sol`, import.meta.url), "utf8");
      declared.push(...[...sol.matchAll(/^\s*error (\w+)\(/gm)].map((m) => m[1]!));
    }
    expect(declared.length).toBeGreaterThan(15);
    const missing = declared.filter((e) => !text.includes(`"${e}"`));
    expect(missing).toEqual([]);
  });
});
