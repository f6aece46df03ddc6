/**
 * Gas per PaymentChannels operation on Hardhat's in-process chain.
 *
 *   npm run bench:gas                 table
 *   npm run bench:gas -- --json       one JSON object
 *   npm run bench:gas -- --check      fail when a figure differs from bench/gas-snapshot.json
 *   npm run bench:gas -- --update     rewrite the snapshot
 */
import { readFile, writeFile } from "node:fs/promises";
import { GAS_TARGETS, type GasReport, measureGas } from "./lib/gas-scenario.ts";
import { printReport, progress } from "./lib/report.ts";

const SNAPSHOT = new URL("./gas-snapshot.json", import.meta.url);

progress("bench:gas: deploying on the in-process chain and running each operation");
const report = await measureGas();

const rows = Object.entries(report).map(([name, gas]) => {
  const target = GAS_TARGETS[name as keyof typeof GAS_TARGETS];
  return target === undefined
    ? { name, value: gas }
    : { name, value: gas, target: `<= ${target}`, ok: gas <= target };
});
printReport("PaymentChannels gas per operation", rows, report);

if (process.argv.includes("--update")) {
  await writeFile(SNAPSHOT, `${JSON.stringify(report, null, 2)}\n`);
  progress(`bench:gas: snapshot written to ${SNAPSHOT.pathname}`);
} else if (process.argv.includes("--check")) {
  const snapshot = JSON.parse(await readFile(SNAPSHOT, "utf8")) as GasReport;
  const drift = Object.entries(report).filter(([k, v]) => snapshot[k as keyof GasReport] !== v);
  if (drift.length > 0) {
    for (const [k, v] of drift) {
      progress(`bench:gas: ${k} is ${v}, snapshot says ${snapshot[k as keyof GasReport]}`);
    }
    progress("bench:gas: gas changed; run `npm run bench:gas -- --update` if that is intended");
    process.exit(1);
  }
  progress("bench:gas: matches the snapshot");
}
