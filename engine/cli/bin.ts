#!/usr/bin/env node
/** The `tollway` command line. */
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv);
