import { describe, expect, it } from "vitest";
import snapshot from "../../bench/gas-snapshot.json" with { type: "json" };
import { measureGas } from "../../bench/lib/gas-scenario.ts";

describe("gas snapshot", () => {
  it("every operation uses exactly the gas committed in bench/gas-snapshot.json", async () => {
    // Run `npm run bench:gas -- --update` after an intended change, and commit the snapshot.
    expect(await measureGas()).toEqual(snapshot);
  });
});
