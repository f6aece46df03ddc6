/** The compiled contracts (Hardhat artifacts), loaded at run time. */
import { readFileSync } from "node:fs";
import { Interface, type InterfaceAbi } from "ethers";
import { ChainError } from "./errors.ts";

/** ABI and creation bytecode of a compiled contract. */
export interface ContractArtifact {
  readonly contractName: string;
  readonly abi: InterfaceAbi;
  readonly bytecode: string;
}

const cache = new Map<string, ContractArtifact>();

/**
 * Loads `artifacts/contracts/<name>.sol/<name>.json`.
 * @throws ChainError ARTIFACTS_MISSING when the contracts were not compiled (`npm run build`).
 */
export function loadArtifact(name: "Token" | "PaymentChannels"): ContractArtifact {
  const hit = cache.get(name);
  if (hit) return hit;
  const url = new URL(`../../artifacts/contracts/${name}.sol/${name}.json`, import.meta.url);
  let artifact: ContractArtifact;
  try {
    artifact = JSON.parse(readFileSync(url, "utf8")) as ContractArtifact;
  } catch (cause) {
    throw new ChainError(
      "ARTIFACTS_MISSING",
      `no compiled ${name} contract; run \`npm run build\``,
      { cause },
    );
  }
  cache.set(name, artifact);
  return artifact;
}

let combined: Interface | undefined;

/** One interface with the errors and events of both contracts, for decoding reverts and logs. */
export function contractsInterface(): Interface {
  combined ??= new Interface([
    ...(loadArtifact("PaymentChannels").abi as readonly unknown[]),
    ...(loadArtifact("Token").abi as readonly unknown[]).filter(
      (f) => (f as { type: string }).type === "error",
    ),
  ] as InterfaceAbi);
  return combined;
}
