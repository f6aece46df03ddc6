/**
 * The folder boundaries docs/architecture.md draws, checked on the source: a top folder (channels, relay,
 * engine) is reached from another only through its index.ts, the layers point one way
 * (engine -> relay -> channels), and the sub-folders of a top folder import each other without
 * cycles.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const layers = ["channels", "relay", "engine"] as const;
type Layer = (typeof layers)[number];

interface Edge {
  readonly from: string;
  readonly to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Every relative import, export-from and dynamic import of every file, as repo paths. */
function importEdges(): Edge[] {
  return layers.flatMap((layer) =>
    sourceFiles(join(root, layer)).flatMap((file) =>
      ts
        .preProcessFile(readFileSync(file, "utf8"), true, true)
        .importedFiles.map((ref) => ref.fileName)
        .filter((spec) => spec.startsWith("."))
        .map((spec) => ({
          from: relative(root, file).split(sep).join("/"),
          to: relative(root, resolve(dirname(file), spec))
            .split(sep)
            .join("/"),
        })),
    ),
  );
}

const topOf = (path: string) => path.split("/")[0] as string;
const subOf = (path: string) => path.split("/").slice(0, 2).join("/");
const rank = (layer: string) => layers.indexOf(layer as Layer);

describe("folder boundaries", () => {
  const edges = importEdges();

  it("reads the source", () => {
    expect(edges.length).toBeGreaterThan(300);
  });

  it("reaches another top folder only through its index.ts", () => {
    const deep = edges
      .filter((e) => topOf(e.from) !== topOf(e.to) && rank(topOf(e.to)) >= 0)
      .filter((e) => e.to !== `${topOf(e.to)}/index.ts`)
      .map((e) => `${e.from} -> ${e.to}`);
    expect(deep).toEqual([]);
  });

  it("points the layers one way: engine -> relay -> channels", () => {
    const upward = edges
      .filter((e) => rank(topOf(e.to)) > rank(topOf(e.from)))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(upward).toEqual([]);
  });

  it("has no import cycle between the sub-folders of a top folder", () => {
    const graph = new Map<string, Set<string>>();
    for (const e of edges) {
      if (topOf(e.from) !== topOf(e.to)) continue;
      const [a, b] = [subOf(e.from), subOf(e.to)];
      if (a === b || a.endsWith(".ts") || b.endsWith(".ts")) continue;
      graph.set(a, (graph.get(a) ?? new Set()).add(b));
    }
    const cycles: string[] = [];
    const done = new Set<string>();
    const visit = (node: string, path: string[]) => {
      if (path.includes(node)) {
        cycles.push([...path.slice(path.indexOf(node)), node].join(" -> "));
        return;
      }
      if (done.has(node)) return;
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
      done.add(node);
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
