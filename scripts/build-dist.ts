/**
 * Builds dist/, what the package ships (`npm pack` runs this as `prepack`): the JavaScript and
 * declarations of channels/, relay/ and engine/ (tsconfig.build.json), and the compiled contracts
 * the chain client reads at run time. Node strips no types under node_modules, so an installed
 * tollway must be JavaScript.
 *
 * dist/ mirrors the repository, so every path a module resolves against its own
 * `import.meta.url` (`../../artifacts/…`) lands inside dist/ as it lands in the checkout.
 * nitro-protocol's contracts are not copied: `loadNitroArtifact` finds them in the installed
 * `@statechannels/nitro-protocol` (a runtime dependency) by module resolution.
 */
import { cpSync, existsSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../", import.meta.url));
const dist = `${root}dist/`;

/**
 * `rewriteRelativeImportExtensions` rewrites import specifiers, not the URLs of modules started
 * by hand (a worker, a child process): `new URL("./verify-worker.ts", import.meta.url)` must name
 * the .js file it was built into.
 */
const moduleUrlsToJs: ts.TransformerFactory<ts.SourceFile> = (context) => {
  const isImportMetaUrl = (node: ts.Node) =>
    ts.isPropertyAccessExpression(node) &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
    node.name.text === "url";
  const visit = (node: ts.Node): ts.Node => {
    if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "URL"
    ) {
      const [spec, base, ...rest] = node.arguments ?? [];
      if (
        spec &&
        base &&
        ts.isStringLiteral(spec) &&
        /^\.\.?\/.*\.ts$/.test(spec.text) &&
        isImportMetaUrl(base)
      ) {
        const js = context.factory.createStringLiteral(spec.text.replace(/\.ts$/, ".js"));
        return context.factory.updateNewExpression(node, node.expression, node.typeArguments, [
          js,
          base,
          ...rest,
        ]);
      }
    }
    return ts.visitEachChild(node, visit, context);
  };
  return (file) => ts.visitNode(file, visit) as ts.SourceFile;
};

function build(): void {
  const configPath = `${root}tsconfig.build.json`;
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail([d]),
  });
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  if (parsed.errors.length > 0) fail(parsed.errors);

  rmSync(dist, { recursive: true, force: true });
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  // A module URL the transformer could not read (a template literal, say) would name a .ts file
  // that the package does not ship.
  const unrewritten: string[] = [];
  const write: ts.WriteFileCallback = (file, text, bom) => {
    if (file.endsWith(".js") && /\.ts["'`]\s*,\s*import\.meta\.url/.test(text))
      unrewritten.push(file);
    ts.sys.writeFile(file, text, bom);
  };
  const emitted = program.emit(undefined, write, undefined, false, { before: [moduleUrlsToJs] });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0 || emitted.emitSkipped) fail(diagnostics);
  if (unrewritten.length > 0) {
    process.stderr.write(`build-dist: a .ts module URL is left in ${unrewritten.join(", ")}\n`);
    process.exit(1);
  }

  // Every contract of contracts/ (not contracts/test/): ABI and bytecode, as `loadArtifact` reads.
  const compiled = `${root}artifacts/contracts/`;
  const sources = existsSync(compiled)
    ? readdirSync(compiled).filter((f) => f.endsWith(".sol"))
    : [];
  if (sources.length === 0) {
    process.stderr.write("build-dist: no compiled contracts; compile them first (hardhat build)\n");
    process.exit(1);
  }
  for (const sol of sources) {
    for (const json of readdirSync(`${compiled}${sol}`).filter((f) => f.endsWith(".json"))) {
      cpSync(`${compiled}${sol}/${json}`, `${dist}artifacts/contracts/${sol}/${json}`);
    }
  }
}

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => "\n",
  };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

build();
