/**
 * The one error base of tollway. Every thrown error carries a machine-readable `code`, a one-line
 * `shortMessage`, the structured `details` that explain it, and the standard `cause`; `message` is
 * composed from them (viem's `BaseError`, ethers' `makeError`). It sits in `channels/`, the bottom
 * layer, so that every folder can extend it.
 */

/** The values that explain an error (a URL, a frame type, a channel id). Any shape is safe. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** What a `TollwayError` takes besides its code and short message. */
export interface TollwayErrorOptions<D extends ErrorDetails = ErrorDetails> {
  /** The values that explain the failure; printed in `message`, kept as given in `details`. */
  readonly details?: D | undefined;
  /** The underlying error, if any (the standard `Error` cause). */
  readonly cause?: unknown;
}

/** The JSON form of a `TollwayError`: JSON-safe (bigints and bytes as strings, depth bounded). */
export interface TollwayErrorJson {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

// Shared by every error built without details, so that none allocates an empty object.
const NO_DETAILS: ErrorDetails = Object.freeze({});

/**
 * The base of every tollway error. Subclasses fix the code union (`ChainError` takes
 * `ChainErrorCode`, …) and set `name`; callers match on `code`, never on the wording.
 *
 * `message` is `shortMessage`, a blank line, then `Code:`, `Details:` (JSON) and `Cause:` lines,
 * so that its first line is always the short message. Building or printing the error never throws,
 * whatever `details` holds (bigints, cycles, keys like `toString` or `__proto__`).
 *
 * @example
 * class RpcError extends TollwayError<"RPC_TIMEOUT"> {}
 * const err = new RpcError("RPC_TIMEOUT", "no answer in 5000 ms", { details: { url } });
 * err.message; // "no answer in 5000 ms\n\nCode: RPC_TIMEOUT\nDetails: {\"url\":\"…\"}"
 */
export class TollwayError<
  C extends string = string,
  D extends ErrorDetails = ErrorDetails,
> extends Error {
  /** Machine-readable, one of the subclass's code union. */
  readonly code: C;
  /** One line saying what went wrong, with no details appended: what a user is shown. */
  readonly shortMessage: string;
  /** The values that explain the failure, as given. */
  readonly details: D;

  /**
   * @param code - machine-readable code
   * @param shortMessage - one line, no trailing details
   * @param options - the details and the cause
   */
  constructor(code: C, shortMessage: string, options: TollwayErrorOptions<D> = {}) {
    const details = options.details ?? (NO_DETAILS as D);
    const cause = options.cause;
    super(
      composeMessage(code, shortMessage, details, cause),
      cause === undefined ? undefined : { cause },
    );
    this.name = "TollwayError";
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = details;
  }

  /** The JSON-safe form, for logs and `--json` output (`JSON.stringify(err)` uses it). */
  toJSON(): TollwayErrorJson {
    return {
      name: this.name,
      code: this.code,
      message: this.shortMessage,
      details: jsonSafeDetails(this.details),
    };
  }
}

/** True when `err` is a `TollwayError` of any layer, optionally with the given code. */
export function isTollwayError(err: unknown, code?: string): err is TollwayError {
  return err instanceof TollwayError && (code === undefined || err.code === code);
}

/**
 * The one line a user is shown for any thrown value: a tollway error's short message, else the
 * first line of its message. Never throws.
 */
export function shortMessageOf(err: unknown): string {
  if (err instanceof TollwayError) return err.shortMessage;
  try {
    const text = err instanceof Error ? err.message : String(err);
    return text.split("\n", 1)[0] ?? "";
  } catch {
    return "unprintable error";
  }
}

/**
 * `details` as a plain JSON-safe object: bigints as decimal strings, bytes as 0x-hex, errors as
 * their code and short message, nesting cut at a few levels (so cycles end). Never throws.
 */
export function jsonSafeDetails(details: unknown): Readonly<Record<string, unknown>> {
  const out = plain(details, 0);
  return out !== null && typeof out === "object" && !Array.isArray(out)
    ? (out as Record<string, unknown>)
    : { value: out };
}

const MAX_DEPTH = 4;
const MAX_ENTRIES = 32;
const MAX_STRING = 1024;
const MAX_BYTES = 64;

function composeMessage(
  code: string,
  shortMessage: string,
  details: ErrorDetails,
  cause: unknown,
): string {
  try {
    let message = `${shortMessage}\n\nCode: ${code}`;
    if (hasEntries(details)) message += `\nDetails: ${JSON.stringify(jsonSafeDetails(details))}`;
    if (cause !== undefined) message += `\nCause: ${shortMessageOf(cause)}`;
    return message;
  } catch {
    // A short message or code that cannot become a string (a cast symbol, say).
    return "unprintable error";
  }
}

function hasEntries(details: ErrorDetails): boolean {
  try {
    return Object.keys(details).length > 0;
  } catch {
    return true;
  }
}

function plain(v: unknown, depth: number): unknown {
  try {
    switch (typeof v) {
      case "string":
        return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v;
      case "number":
      case "boolean":
      case "undefined":
        return v;
      case "bigint":
        return v.toString();
      case "symbol":
        return v.toString();
      case "function":
        return "[function]";
    }
    if (v === null) return null;
    if (v instanceof Uint8Array) return bytesHex(v);
    if (v instanceof Error) return errorSummary(v);
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    if (depth >= MAX_DEPTH) return "[…]";
    if (Array.isArray(v)) {
      const items = v.slice(0, MAX_ENTRIES).map((item) => plain(item, depth + 1));
      if (v.length > MAX_ENTRIES) items.push(`… ${v.length - MAX_ENTRIES} more`);
      return items;
    }
    // A null-prototype object, so that a key named `__proto__` stays a key and no inherited
    // `toJSON` or `toString` is ever called.
    const out: Record<string, unknown> = Object.create(null);
    const keys = Object.keys(v as object);
    for (const key of keys.slice(0, MAX_ENTRIES)) {
      out[key] = plain((v as Record<string, unknown>)[key], depth + 1);
    }
    if (keys.length > MAX_ENTRIES) out["…"] = `${keys.length - MAX_ENTRIES} more`;
    return out;
  } catch {
    // A getter or proxy trap that throws.
    return "[unreadable]";
  }
}

function bytesHex(b: Uint8Array): string {
  const shown = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, MAX_BYTES)).toString("hex");
  return b.length > MAX_BYTES ? `0x${shown}… (${b.length} bytes)` : `0x${shown}`;
}

function errorSummary(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return {
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    message: shortMessageOf(err),
  };
}
