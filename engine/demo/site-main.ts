/**
 * The demo site as its own process, for a network namespace: `node site-main.ts <host> <port>`
 * serves the pages and prints `ready` once it listens; it runs until killed.
 */
import { startSite } from "./site.ts";

const [host = "0.0.0.0", port = "8080"] = process.argv.slice(2);
await startSite(32 * 1024, host, Number(port));
process.stdout.write("ready\n");
