/**
 * Pure parsers for the CLI's numeric flags: token amounts, prices, durations and settle windows.
 * Each returns a typed result instead of throwing, so that they can be fuzzed alone; `flag()`
 * turns a rejection into the one-line `CliError` the user sees.
 */
import { formatUnits } from "ethers";
import {
  MAX_SETTLE_WINDOW_SECONDS,
  MIN_SETTLE_WINDOW_SECONDS,
  type Result,
  reject,
} from "../../channels/index.ts";
import { CliError } from "./errors.ts";

/** The largest deposit the contract can hold on one side (`type(uint112).max`), base units. */
export const MAX_DEPOSIT_UNITS = (1n << 112n) - 1n;

/** Longest numeric flag value looked at; anything longer is refused before it is parsed. */
const MAX_NUMBER_CHARS = 80;

/** A parsed flag, or why it was refused (BAD_FLAG, with the flag's name in `details.flag`). */
export type FlagResult<T> = Result<T, "BAD_FLAG">;

/** The unit a token amount is printed in. */
export interface TokenUnit {
  readonly decimals: number;
  readonly symbol: string;
}

/** The tollway token's unit when the chain has not been asked (its deployment fixes both). */
export const TOLL: TokenUnit = { decimals: 18, symbol: "TOLL" };

/** Prints base units as tokens: `3500000000000000000n` → `"3.5 TOLL"`. */
export function formatTokens(units: bigint, unit: TokenUnit = TOLL): string {
  const s = formatUnits(units, unit.decimals);
  return `${s.endsWith(".0") ? s.slice(0, -2) : s} ${unit.symbol}`;
}

/**
 * A positive amount of tokens as a plain decimal (`12`, `0.5`), with at most `unit.decimals`
 * decimals and at most `maxUnits` base units. Refuses signs, exponents, hex, spaces and zero.
 */
export function parseTokens(
  name: string,
  raw: unknown,
  unit: TokenUnit = TOLL,
  maxUnits: bigint = MAX_DEPOSIT_UNITS,
): FlagResult<bigint> {
  const bad = (why: string): FlagResult<bigint> =>
    reject("BAD_FLAG", `${name} ${why}, got ${quote(raw)}`, { flag: name });
  if (typeof raw !== "string" || raw.length > MAX_NUMBER_CHARS)
    return bad("must be a positive decimal number of tokens (e.g. 12.5)");
  const m = /^(\d+)(?:\.(\d+))?$/.exec(raw);
  if (!m) return bad("must be a positive decimal number of tokens (e.g. 12.5)");
  const whole = m[1]!;
  const fraction = m[2] ?? "";
  if (fraction.length > unit.decimals)
    return bad(`has more than ${unit.decimals} decimals (the token's precision)`);
  const units =
    BigInt(whole) * 10n ** BigInt(unit.decimals) +
    BigInt(fraction.padEnd(unit.decimals, "0") || "0");
  if (units === 0n) return bad("must be more than 0");
  if (units > maxUnits) return bad(`must be at most ${formatTokens(maxUnits, unit)}`);
  return { ok: true, value: units };
}

/** A whole number from `min` to `max`, in plain decimal digits. */
export function parseInteger(
  name: string,
  raw: unknown,
  min: number,
  max: number,
): FlagResult<number> {
  const text = typeof raw === "number" ? String(raw) : raw;
  if (
    typeof text !== "string" ||
    text.length > MAX_NUMBER_CHARS ||
    !/^\d+$/.test(text) ||
    Number(text) < min ||
    Number(text) > max
  ) {
    return reject(
      "BAD_FLAG",
      `${name} must be a whole number from ${min} to ${max}, got ${quote(raw)}`,
      { flag: name },
    );
  }
  return { ok: true, value: Number(text) };
}

/** A settle window in seconds, within the contract's bounds. */
export function parseWindow(name: string, raw: unknown): FlagResult<number> {
  const r = parseInteger(name, raw, MIN_SETTLE_WINDOW_SECONDS, MAX_SETTLE_WINDOW_SECONDS);
  if (r.ok) return r;
  return reject(
    "BAD_FLAG",
    `${name} must be a settle window of ${MIN_SETTLE_WINDOW_SECONDS} to ${MAX_SETTLE_WINDOW_SECONDS} seconds (30 days), the contract's bounds, got ${quote(raw)}`,
    { flag: name },
  );
}

/** Unwraps a flag result or throws `CliError` BAD_FLAG with its reason. */
export function flag<T>(r: FlagResult<T>): T {
  if (!r.ok) throw new CliError(r.code, r.reason, { details: r.details });
  return r.value;
}

/** A value as it may appear in a message: as JSON (flags are strings, config values JSON), cut short. */
function quote(raw: unknown): string {
  const s = typeof raw === "bigint" ? String(raw) : (JSON.stringify(raw) ?? String(raw));
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}
