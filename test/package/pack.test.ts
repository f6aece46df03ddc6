/**
 * tollway as a crawler author gets it: `npm pack` (which builds dist/), the tarball installed
 * into a fresh project, a script there that imports `tollway`, `tollway/channels` and
 * `tollway/relay` and pays a provider over a real WebSocket on the embedded chain, and a
 * TypeScript file type-checked against the installed declarations.
 */
import { execFile, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };

const root = fileURLToPath(new URL("../../", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
// npm's `#!/usr/bin/env node` must find this Node (24), not an older one earlier on PATH.
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` };
const npmVersion = spawnSync("npm", ["--version"], { env, encoding: "utf8" });
const npmMissing =
  npmVersion.status === 0 ? undefined : (npmVersion.error?.message ?? npmVersion.stderr.trim());
if (npmMissing) console.log(`skipping the package test: npm is unavailable (${npmMissing})`);

function run(
  file: string,
  args: readonly string[],
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const output = `${stdout}${stderr}`.trim();
        reject(new Error(`${file} ${args.join(" ")} failed:\n${output}`, { cause: error }));
      } else resolve({ stdout, stderr });
    });
  });
}

interface PackedFile {
  readonly path: string;
}

describe.skipIf(npmMissing !== undefined)("the packed package", () => {
  let dir: string;
  let app: string;
  let packed: readonly PackedFile[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollway-pack-"));
    const out = join(dir, "tarball");
    await mkdir(out);
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", out], root);
    packed = (JSON.parse(stdout) as { files: PackedFile[] }[])[0]!.files;
    const [tarball] = (await readdir(out)).filter((f) => f.endsWith(".tgz"));
    app = join(dir, "crawler");
    await mkdir(app);
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({ name: "crawler", private: true, type: "module" }),
    );
    // Its dependencies come from the registry (or npm's cache), as a crawler author's would.
    await run(
      "npm",
      [
        "install",
        join(out, tarball!),
        `@types/node@${pkg.devDependencies["@types/node"]}`,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
      ],
      app,
    );
  }, 240_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("ships the built JavaScript, its declarations and the compiled contracts, and no TypeScript", () => {
    const paths = packed.map((f) => f.path);
    for (const entry of ["engine", "channels", "relay"]) {
      expect(paths).toContain(`dist/${entry}/index.js`);
      expect(paths).toContain(`dist/${entry}/index.d.ts`);
    }
    expect(paths).toContain("dist/artifacts/contracts/PaymentChannels.sol/PaymentChannels.json");
    expect(paths).toContain("dist/artifacts/contracts/Token.sol/Token.json");
    expect(paths).toContain("bin/tollway.js");
    expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
  });

  it("a script importing tollway, tollway/channels and tollway/relay pays a provider on chain", async () => {
    await copyFile(join(fixtures, "crawler.mjs"), join(app, "crawler.mjs"));
    const { stdout } = await run(process.execPath, ["crawler.mjs"], app);
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    expect(result.end).toBe("CLOSED_LOCALLY");
    expect(result.sameModules).toBe(true);
    expect(result.proofsSent).toBeGreaterThanOrEqual(2);
    expect(result.proofsAcked).toBe(result.proofsSent);
    const paid = BigInt(result.paidOffChain as string);
    expect(paid).toBeGreaterThan(0n);
    // What the provider acknowledged off chain is what it was paid on chain, to the unit.
    expect(BigInt(result.payoutToProvider as string)).toBe(paid);
    expect(BigInt(result.receivedOnChain as string)).toBe(paid);
  }, 120_000);

  it("a crawler's TypeScript type-checks against the installed declarations", async () => {
    await copyFile(join(fixtures, "crawler-types.ts"), join(app, "crawler-types.ts"));
    const compilerOptions = {
      target: "es2023",
      module: "nodenext",
      moduleResolution: "nodenext",
      strict: true,
      noEmit: true,
      types: ["node"],
    };
    await writeFile(
      join(app, "tsconfig.json"),
      JSON.stringify({ compilerOptions, files: ["crawler-types.ts"] }),
    );
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    await expect(run(process.execPath, [tsc, "-p", app], app)).resolves.toBeDefined();
  }, 120_000);

  it("the installed tollway command runs from the built JavaScript", async () => {
    const { stdout } = await run(join(app, "node_modules", ".bin", "tollway"), ["--version"], app);
    expect(stdout.trim()).toBe(pkg.version);
  }, 60_000);
});
