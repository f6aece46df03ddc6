/** What the role commands share: printing a result, reading URL and country flags, stopping on a signal. */
import { type Address, isChannelError } from "../../../channels/index.ts";
import { accountLayout } from "../../node/layout.ts";
import { CliError } from "../errors.ts";
import type { Io } from "../io.ts";

/** Resolves at the first SIGINT or SIGTERM. */
export const untilSignal = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });

/** Prints one JSON object with --json, else the human text. */
export const print = (io: Io, json: boolean, value: Record<string, unknown>, human: string) =>
  io.out(
    json
      ? `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`
      : `${human}\n`,
  );

/** Parses an http(s) or ws(s) URL flag. */
export function httpUrl(flag: string, raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(
      "BAD_FLAG",
      `${flag} must be a URL, got ${JSON.stringify(raw.slice(0, 80))}`,
      { details: { flag } },
    );
  }
  if (!/^(https?|wss?):$/.test(u.protocol))
    throw new CliError(
      "BAD_FLAG",
      `${flag} must be an http(s) or ws(s) URL, got ${JSON.stringify(raw.slice(0, 80))}`,
      { details: { flag } },
    );
  return u;
}

/** A two-letter country code. */
export function countryFlag(raw: unknown): string {
  if (typeof raw !== "string" || !/^[A-Za-z]{2}$/.test(raw))
    throw new CliError(
      "BAD_FLAG",
      `--country must be a two-letter country code, got ${JSON.stringify(String(raw).slice(0, 20))}`,
    );
  return raw.toUpperCase();
}

/** A store another process holds, said in words: which account, and what to do. */
export function lockedStore(err: unknown, dataDir: string, me: Address): unknown {
  const locked =
    isChannelError(err, "STORE_LOCKED") ||
    (err as { cause?: { code?: string } }).cause?.code === "LEVEL_LOCKED";
  if (!locked) return err;
  return new CliError(
    "NODE_RUNNING",
    `another node already runs for ${me} on ${accountLayout(dataDir, me).dir}; stop it, or use another account or --data-dir`,
    { cause: err },
  );
}
