/**
 * The HTTP JSON-RPC transport: every request has a deadline, a bounded answer, and a failure
 * that names the RPC (`ChainError` RPC_TIMEOUT, RPC_UNREACHABLE or RPC_BAD_RESPONSE).
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import {
  BrowserProvider,
  type Eip1193Provider,
  type JsonRpcError,
  type JsonRpcPayload,
  JsonRpcProvider,
  type JsonRpcResult,
  makeError,
  type Provider,
} from "ethers";
import { ChainError } from "./errors.ts";

/** How long one JSON-RPC request may take, in milliseconds, unless told otherwise. */
export const DEFAULT_RPC_TIMEOUT_MS = 5_000;

/** The largest JSON-RPC answer read, in bytes (a wide `eth_getLogs` fits many times over). */
export const DEFAULT_MAX_RPC_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Options of {@link providerFor} for a URL. */
export interface RpcProviderOptions {
  /** Deadline of each request, from sending it to the last byte of its answer (ms). */
  readonly timeoutMs?: number;
  /** Answers larger than this are refused as RPC_BAD_RESPONSE. */
  readonly maxResponseBytes?: number;
}

/**
 * A provider for a JSON-RPC URL or an EIP-1193 object (Hardhat's in-process network, a wallet).
 * A URL gets a {@link TimedJsonRpcProvider}: each request has `timeoutMs` (default 5 s) and
 * fails with RPC_TIMEOUT, RPC_UNREACHABLE or RPC_BAD_RESPONSE naming the URL.
 * @throws RangeError when an option is not a positive integer.
 * @example const provider = providerFor("http://127.0.0.1:8545", { timeoutMs: 3_000 });
 */
export function providerFor(
  rpc: string | Eip1193Provider,
  opts: RpcProviderOptions = {},
): Provider {
  // ethers caches identical requests for 250 ms; a retry must reach the node, not the cache.
  return typeof rpc === "string"
    ? new TimedJsonRpcProvider(rpc, opts)
    : new BrowserProvider(rpc, undefined, { cacheTimeout: -1 });
}

/**
 * `url` as it may appear in errors and logs: no user, password, query or fragment, and long path
 * segments (the API keys of hosted RPCs, as in `/v3/<key>`) replaced by `***`.
 */
export function redactRpcUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "<an invalid URL>";
  }
  const path = parsed.pathname
    .split("/")
    .map((segment) => (segment.length >= 20 ? "***" : segment))
    .join("/");
  return `${parsed.protocol}//${parsed.host}${path === "/" ? "" : path}`;
}

/**
 * ethers' JSON-RPC provider over node:http(s), with a deadline per request
 * (`AbortSignal.timeout`, from sending to the last byte of the answer), a cap on the answer's
 * size, and a check that the answer is JSON-RPC before ethers reads it.
 * `destroy()` also aborts requests in flight, so nothing is left running after it.
 *
 * Failures of a request reject it with a `ChainError` whose message and `details.url` name the
 * RPC (redacted by {@link redactRpcUrl}) and whose `details.method` names the call:
 * - RPC_TIMEOUT: no complete answer within `timeoutMs`;
 * - RPC_UNREACHABLE: no connection (refused, reset, unknown host), or HTTP 429 / 5xx;
 * - RPC_BAD_RESPONSE: not JSON, not a JSON-RPC response to this request, or too large.
 */
export class TimedJsonRpcProvider extends JsonRpcProvider {
  /** The URL as errors show it. */
  readonly rpcUrl: string;
  readonly timeoutMs: number;
  readonly #url: string;
  readonly #maxResponseBytes: number;
  readonly #destroyed = new AbortController();

  /** @throws RangeError when `timeoutMs` or `maxResponseBytes` is not a positive integer. */
  constructor(url: string, opts: RpcProviderOptions = {}) {
    super(url, undefined, { staticNetwork: false, batchMaxCount: 1, cacheTimeout: -1 });
    this.#url = url;
    this.rpcUrl = redactRpcUrl(url);
    this.timeoutMs = positive("timeoutMs", opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS);
    this.#maxResponseBytes = positive(
      "maxResponseBytes",
      opts.maxResponseBytes ?? DEFAULT_MAX_RPC_RESPONSE_BYTES,
    );
  }

  // ethers types JsonRpcProvider's answers as results only, though its own carry errors too.
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const requests = Array.isArray(payload) ? payload : [payload];
    const method = requests.map((r) => r.method).join(",");
    const details = { url: this.rpcUrl, method };
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.#destroyed.signal]);
    let status: number;
    let text: string;
    try {
      ({ status, text } = await post(
        this.#url,
        JSON.stringify(payload),
        signal,
        this.#maxResponseBytes,
        details,
      ));
    } catch (err) {
      throw this.#failure(err, signal, details);
    }
    if (status === 429 || status >= 500) {
      throw new ChainError(
        "RPC_UNREACHABLE",
        `the RPC at ${this.rpcUrl} answered ${method} with HTTP ${status}`,
        { details: { ...details, status } },
      );
    }
    return parseAnswer(text, requests, status, this.rpcUrl, details) as JsonRpcResult[];
  }

  override destroy(): void {
    this.#destroyed.abort();
    super.destroy();
  }

  #failure(err: unknown, signal: AbortSignal, details: { url: string; method: string }) {
    if (err instanceof ChainError) return err;
    if (this.#destroyed.signal.aborted) {
      return makeError("provider destroyed; cancelled request", "UNSUPPORTED_OPERATION", {
        operation: details.method,
      });
    }
    if (signal.aborted) {
      return new ChainError(
        "RPC_TIMEOUT",
        `the RPC at ${this.rpcUrl} did not answer ${details.method} within ${this.timeoutMs} ms`,
        { details: { ...details, timeoutMs: this.timeoutMs }, cause: err },
      );
    }
    const reason = syscallCode(err);
    return new ChainError(
      "RPC_UNREACHABLE",
      `cannot reach the RPC at ${this.rpcUrl}${reason ? ` (${reason})` : ""}`,
      { details: { ...details, reason }, cause: err },
    );
  }
}

/**
 * POSTs `body` to `url` (node:http, so that any port and a user:password in the URL work) and
 * reads an answer of at most `max` bytes; past that the connection is dropped.
 */
function post(
  url: string,
  body: string,
  signal: AbortSignal,
  max: number,
  details: { url: string; method: string },
): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(
      new ChainError("RPC_UNREACHABLE", `${details.url} is not an http or https URL`, { details }),
    );
  }
  const tooBig = () =>
    new ChainError(
      "RPC_BAD_RESPONSE",
      `the RPC at ${details.url} answered ${details.method} with more than ${max} bytes`,
      { details: { ...details, maxResponseBytes: max } },
    );
  return new Promise((resolve, reject) => {
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      target,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "content-length": Buffer.byteLength(body),
        },
        signal,
      },
      (res: IncomingMessage) => {
        if (Number(res.headers["content-length"] ?? 0) > max) {
          req.destroy();
          reject(tooBig());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > max) {
            req.destroy();
            reject(tooBig());
          } else chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The answer as ethers expects it, or RPC_BAD_RESPONSE if it is not one to these requests. */
function parseAnswer(
  text: string,
  requests: readonly JsonRpcPayload[],
  status: number,
  rpcUrl: string,
  details: { url: string; method: string },
): (JsonRpcResult | JsonRpcError)[] {
  const bad = (why: string) =>
    new ChainError("RPC_BAD_RESPONSE", `the RPC at ${rpcUrl} answered ${details.method} ${why}`, {
      details: { ...details, status },
    });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad(`with something that is not JSON (HTTP ${status}, ${text.length} characters)`);
  }
  const answers = Array.isArray(body) ? body : [body];
  for (const answer of answers) {
    if (!isJsonRpcAnswer(answer)) throw bad(`with JSON that is not a JSON-RPC response`);
  }
  for (const request of requests) {
    if (!answers.some((a) => (a as { id: unknown }).id === request.id))
      throw bad(`without an answer to request ${request.id} (HTTP ${status})`);
  }
  // A JSON-RPC answer counts whatever the HTTP status (nodes send errors with 400 or 403 too).
  return answers as (JsonRpcResult | JsonRpcError)[];
}

/** An object with an `id` and either a `result` or an `error` object, as own properties. */
function isJsonRpcAnswer(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (!Object.hasOwn(value, "id")) return false;
  const id = (value as { id: unknown }).id;
  if (typeof id !== "number" && typeof id !== "string") return false;
  if (Object.hasOwn(value, "error")) {
    const error = (value as { error: unknown }).error;
    return typeof error === "object" && error !== null && !Array.isArray(error);
  }
  return Object.hasOwn(value, "result");
}

/** The system error code under a fetch failure (`ECONNREFUSED`, `ENOTFOUND`, ...), if any. */
function syscallCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === "string") return e.code;
    e = e.cause as { code?: unknown; cause?: unknown } | undefined;
  }
  return undefined;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
