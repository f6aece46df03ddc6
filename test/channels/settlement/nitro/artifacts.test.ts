import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { isChainError } from "../../../../channels/chain/errors.ts";
import {
  loadNitroArtifact,
  NITRO_PACKAGE,
  type NitroContractName,
} from "../../../../channels/settlement/nitro/artifacts.ts";

describe("Nitro artifacts", () => {
  it("are the installed package's own, with ABI, creation and runtime code", () => {
    const require = createRequire(import.meta.url);
    const pkg = dirname(realpathSync(require.resolve(`${NITRO_PACKAGE}/package.json`)));
    for (const name of ["NitroAdjudicator", "ConsensusApp", "VirtualPaymentApp"] as const) {
      const art = loadNitroArtifact(name);
      expect(art.contractName).toBe(name);
      expect(art.bytecode).toMatch(/^0x[0-9a-f]+$/);
      expect(art.deployedBytecode).toMatch(/^0x[0-9a-f]+$/);
      expect(art).toEqual(require(`${pkg}/dist/artifacts/contracts/${name}.sol/${name}.json`));
      expect(loadNitroArtifact(name)).toBe(art);
    }
  });

  it("report a missing artifact with ARTIFACTS_MISSING", () => {
    let caught: unknown;
    try {
      loadNitroArtifact("TrivialApp" as NitroContractName);
    } catch (err) {
      caught = err;
    }
    expect(isChainError(caught, "ARTIFACTS_MISSING")).toBe(true);
  });
});
