import { describe, expect, it } from "vitest";
import { measureNitroGas } from "../../../../bench/lib/nitro-gas-scenario.ts";
import snapshot from "../../../../bench/nitro-gas-snapshot.json" with { type: "json" };

describe("Nitro gas snapshot", () => {
  it("every adjudicator operation uses exactly the gas committed in bench/nitro-gas-snapshot.json", async () => {
    // Run `node bench/nitro-gas.ts --update` after an intended change, and commit the snapshot.
    const report = await measureNitroGas();
    console.log(
      `nitro gas: ${Object.entries(report)
        .map(([op, gas]) => `${op} ${gas}`)
        .join(", ")}`,
    );
    expect(report).toEqual(snapshot);
  });
});
