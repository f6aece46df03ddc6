#!/usr/bin/env node
// The `tollway` command. A checkout runs the TypeScript source (Node 24 strips its types); an
// installed package ships no source, since Node strips no types under node_modules, and runs the
// JavaScript built into dist/ when it was packed.
import { existsSync } from "node:fs";

const source = new URL("../engine/cli/bin.ts", import.meta.url);
const built = new URL("../dist/engine/cli/bin.js", import.meta.url);
await import((existsSync(source) ? source : built).href);
