/**
 * nitro-protocol's compiled contracts, read from the installed `@statechannels/nitro-protocol`
 * package (a runtime dependency): the package's own artifacts, not a copy, found by Node's module
 * resolution from this file, so a checkout and an installed tollway both find them.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ContractArtifact } from "../../chain/artifacts.ts";
import { ChainError } from "../../chain/errors.ts";

/** The Nitro contracts tollway deploys. */
export type NitroContractName = "NitroAdjudicator" | "ConsensusApp" | "VirtualPaymentApp";

/** A Nitro contract's artifact: its runtime code too, to check a deployment against. */
export interface NitroArtifact extends ContractArtifact {
  readonly deployedBytecode: string;
}

/** The package the artifacts come from. */
export const NITRO_PACKAGE = "@statechannels/nitro-protocol";

const require = createRequire(import.meta.url);
const cache = new Map<NitroContractName, NitroArtifact>();

/**
 * Loads `dist/artifacts/contracts/<name>.sol/<name>.json` of the installed package.
 * @throws ChainError ARTIFACTS_MISSING when the package or the artifact is not installed.
 */
export function loadNitroArtifact(name: NitroContractName): NitroArtifact {
  const hit = cache.get(name);
  if (hit) return hit;
  let artifact: NitroArtifact;
  try {
    const file = require.resolve(
      `${NITRO_PACKAGE}/dist/artifacts/contracts/${name}.sol/${name}.json`,
    );
    artifact = JSON.parse(readFileSync(file, "utf8")) as NitroArtifact;
  } catch (cause) {
    throw new ChainError(
      "ARTIFACTS_MISSING",
      `no ${name} artifact in ${NITRO_PACKAGE}; install the dependencies`,
      { cause, details: { contract: name } },
    );
  }
  cache.set(name, artifact);
  return artifact;
}
