/**
 * Gas per NitroAdjudicator operation on Hardhat's in-process chain (nitro-protocol's deployed
 * contracts, driven by tollway's own state encoding and signatures).
 *
 *   npm run bench:nitro-gas                 table
 *   npm run bench:nitro-gas -- --json       one JSON object
 *   npm run bench:nitro-gas -- --check      fail when a figure differs from bench/nitro-gas-snapshot.json
 *   npm run bench:nitro-gas -- --update     rewrite the snapshot
 */
import { readFile, writeFile } from "node:fs/promises";
import { measureNitroGas, type NitroGasReport } from "./lib/nitro-gas-scenario.ts";
import { printReport, progress } from "./lib/report.ts";

const SNAPSHOT = new URL("./nitro-gas-snapshot.json", import.meta.url);

progress("bench:nitro-gas: deploying on the in-process chain and running each operation");
const report = await measureNitroGas();
printReport(
  "NitroAdjudicator gas per operation",
  Object.entries(report).map(([name, value]) => ({ name, value })),
  { ...report },
);

if (process.argv.includes("--update")) {
  await writeFile(SNAPSHOT, `${JSON.stringify(report, null, 2)}\n`);
  progress(`bench:nitro-gas: snapshot written to ${SNAPSHOT.pathname}`);
} else if (process.argv.includes("--check")) {
  const snapshot = JSON.parse(await readFile(SNAPSHOT, "utf8")) as NitroGasReport;
  const drift = Object.entries(report).filter(
    ([k, v]) => snapshot[k as keyof NitroGasReport] !== v,
  );
  if (drift.length > 0) {
    for (const [k, v] of drift) {
      progress(
        `bench:nitro-gas: ${k} is ${v}, snapshot says ${snapshot[k as keyof NitroGasReport]}`,
      );
    }
    progress(
      "bench:nitro-gas: gas changed; run `node bench/nitro-gas.ts --update` if that is intended",
    );
    process.exit(1);
  }
  progress("bench:nitro-gas: matches the snapshot");
}
