#!/usr/bin/env node
/** The `tollway` command line. */
import { installCrashGuard } from "./crash-guard.ts";
import { defaultIo, runCli } from "./program.ts";

installCrashGuard(defaultIo, process.argv.includes("--verbose"));
process.exitCode = await runCli(process.argv);
