/** Shared output for bench scripts: one JSON object with `--json`, otherwise a readable table. */
import Table from "cli-table3";

export interface Row {
  readonly name: string;
  readonly value: number | string;
  readonly target?: string;
  readonly ok?: boolean;
}

/** True when the script was asked for JSON (`--json`). */
export function wantsJson(argv: readonly string[] = process.argv): boolean {
  return argv.includes("--json");
}

/** Prints `json` as one object on stdout, or `rows` as a table under `title`. */
export function printReport(title: string, rows: readonly Row[], json: Record<string, unknown>) {
  if (wantsJson()) {
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  const table = new Table({ head: ["figure", "measured", "target", ""] });
  for (const r of rows) {
    const mark = r.ok === undefined ? "" : r.ok ? "ok" : "MISSED";
    table.push([r.name, String(r.value), r.target ?? "", mark]);
  }
  process.stdout.write(`${title}\n${table.toString()}\n`);
}

/** A progress line on stderr, so that stdout stays clean for `--json`. */
export function progress(message: string) {
  process.stderr.write(`${message}\n`);
}
