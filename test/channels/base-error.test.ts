/**
 * The one error base: what a `TollwayError` is made of, that every layer's error class is one,
 * that nothing in `details` can make building or printing an error throw, and the one `Result`.
 */
import { inspect } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChainError,
  ChannelError,
  isChainError,
  isChannelError,
  isTollwayError,
  jsonSafeDetails,
  reject,
  shortMessageOf,
  TollwayError,
} from "../../channels/index.ts";
import { CliError, errorCode, errorDetails } from "../../engine/cli/errors.ts";
import { jsonError } from "../../engine/cli/program.ts";
import { DemoUnsupportedError } from "../../engine/demo/namespaces.ts";
import { MarketError } from "../../engine/market/types.ts";
import { ChannelActionError } from "../../engine/node/channel-actions.ts";
import { MarketApiError } from "../../engine/node/market-client.ts";
import {
  CloseCode,
  isRelayError,
  isSystemTunnelError,
  PathClosedError,
  RelayError,
  SystemTunnelError,
} from "../../relay/index.ts";

describe("TollwayError", () => {
  it("keeps code, short message, details and cause, and composes the message from them", () => {
    const cause = new Error("socket hang up\nat the second line");
    const err = new TollwayError("RPC_TIMEOUT", "no answer in 5000 ms", {
      details: { url: "http://127.0.0.1:8545", tries: 3, amount: 7n },
      cause,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("TollwayError");
    expect(err.code).toBe("RPC_TIMEOUT");
    expect(err.shortMessage).toBe("no answer in 5000 ms");
    expect(err.details).toEqual({ url: "http://127.0.0.1:8545", tries: 3, amount: 7n });
    expect(err.cause).toBe(cause);
    expect(err.message).toBe(
      [
        "no answer in 5000 ms",
        "",
        "Code: RPC_TIMEOUT",
        'Details: {"url":"http://127.0.0.1:8545","tries":3,"amount":"7"}',
        "Cause: socket hang up",
      ].join("\n"),
    );
    expect(err.stack?.split("\n")[0]).toBe("TollwayError: no answer in 5000 ms");
  });

  it("leaves out the lines it has nothing for, and builds no details object of its own", () => {
    const a = new TollwayError("A", "short");
    const b = new TollwayError("B", "short");
    expect(a.message).toBe("short\n\nCode: A");
    expect(a.details).toEqual({});
    expect(a.details).toBe(b.details);
    expect(Object.isFrozen(a.details)).toBe(true);
    expect("cause" in a).toBe(false);
    // A tollway cause is named by its short message.
    const wrapped = new TollwayError("C", "outer", { cause: a });
    expect(wrapped.message).toBe("outer\n\nCode: C\nCause: short");
  });

  it("prints as JSON with bigints and bytes as strings, errors by their code", () => {
    const err = new TollwayError("X", "short", {
      details: {
        n: 1n << 70n,
        bytes: new Uint8Array([0xde, 0xad]),
        inner: new ChannelError("STORE_LOCKED", "locked"),
        at: new Date(0),
        skip: undefined,
      },
    });
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: "TollwayError",
      code: "X",
      message: "short",
      details: {
        n: String(1n << 70n),
        bytes: "0xdead",
        inner: { code: "STORE_LOCKED", message: "locked" },
        at: "1970-01-01T00:00:00.000Z",
      },
    });
  });

  it("is the base of every error class of every layer, which keeps its own code and name", () => {
    const cases: [TollwayError, string, string][] = [
      [new ChainError("RPC_TIMEOUT", "m", { details: { url: "u" } }), "ChainError", "RPC_TIMEOUT"],
      [new ChannelError("STORE_LOCKED", "m", { path: "p" }), "ChannelError", "STORE_LOCKED"],
      [new RelayError("AUTH_FAILED", "m", { frame: "AUTH" }), "RelayError", "AUTH_FAILED"],
      [new SystemTunnelError("COMMAND_FAILED", "m"), "SystemTunnelError", "COMMAND_FAILED"],
      [new ChannelActionError("NOT_OPEN", "m"), "ChannelActionError", "NOT_OPEN"],
      [new MarketApiError(409, "REPLAYED", "m"), "MarketApiError", "REPLAYED"],
      [new MarketError("BOOK_FULL", "m"), "MarketError", "BOOK_FULL"],
      [new CliError("NO_KEY", "m"), "CliError", "NO_KEY"],
      [new DemoUnsupportedError("m"), "DemoUnsupportedError", "DEMO_UNSUPPORTED"],
      [
        new PathClosedError({ code: "LANE_FAILED", hop: "isp2", outcome: "m" }),
        "PathClosedError",
        "LANE_FAILED",
      ],
    ];
    for (const [err, name, code] of cases) {
      expect(err).toBeInstanceOf(TollwayError);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(name);
      expect(err.code).toBe(code);
      expect(isTollwayError(err, code)).toBe(true);
      expect(isTollwayError(err, "OTHER")).toBe(false);
      expect(err.message.split("\n")[0]).toBe(err.shortMessage);
      expect(errorCode(err)).toBe(code);
    }
    const chain = cases[0]![0];
    expect(isChainError(chain, "RPC_TIMEOUT")).toBe(true);
    expect(isChannelError(chain)).toBe(false);
    expect(isRelayError(cases[2]![0], "AUTH_FAILED")).toBe(true);
    expect(isSystemTunnelError(cases[3]![0], "COMMAND_FAILED")).toBe(true);
    expect(isTollwayError(new Error("plain"))).toBe(false);
  });

  it("keeps the fields callers read: a relay error's close code, a CLI error's exit code", () => {
    expect(new RelayError("AUTH_FAILED", "m").closeCode).toBe(CloseCode.AUTH_FAILED);
    expect(new RelayError("INTERNAL", "m", {}, { closeCode: 4999 }).closeCode).toBe(4999);
    expect(new CliError("BAD_FLAG", "m").exitCode).toBe(2);
    expect(new CliError("INTERRUPTED", "m", { exitCode: 130 }).exitCode).toBe(130);
    expect(new MarketApiError(429, "RATE_LIMITED", "slow down")).toMatchObject({
      status: 429,
      details: { status: 429 },
    });
    const revert = new ChainError("CONTRACT_REVERT", "m", {
      details: { errorName: "SettleWindowRunning", errorArgs: [1n] },
    });
    expect(isChainError(revert, "CONTRACT_REVERT", "SettleWindowRunning")).toBe(true);
    expect(isChainError(revert, "CONTRACT_REVERT", "ChannelNotOpen")).toBe(false);
  });

  it("gives the CLI's --json line its details, JSON-safe, and no details key when there are none", () => {
    const err = new CliError("BAD_FLAG", "--amount must be more than 0", {
      details: { flag: "--amount", max: 2n ** 112n - 1n },
    });
    expect(JSON.parse(jsonError(errorCode(err), err.shortMessage, errorDetails(err)))).toEqual({
      error: {
        code: "BAD_FLAG",
        message: "--amount must be more than 0",
        details: { flag: "--amount", max: String(2n ** 112n - 1n) },
      },
    });
    expect(JSON.parse(jsonError("INTERNAL", "boom", errorDetails(new Error("boom"))))).toEqual({
      error: { code: "INTERNAL", message: "boom" },
    });
  });
});

/** Values fast-check's `anything` does not make, and that have broken error printers before. */
function awkward(): fc.Arbitrary<unknown> {
  const cyclic = () => {
    const o: Record<string, unknown> = { name: "loop" };
    o.self = o;
    o.list = [o, [o]];
    return o;
  };
  const throwingGetter = () =>
    Object.defineProperty({}, "boom", {
      enumerable: true,
      get() {
        throw new Error("getter");
      },
    });
  const hostileProxy = () =>
    new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("ownKeys");
        },
      },
    );
  const poisoned = () => ({
    toString: () => {
      throw new Error("toString");
    },
    toJSON: () => {
      throw new Error("toJSON");
    },
    valueOf: 1,
    constructor: "x",
    ["__proto__"]: { polluted: true },
  });
  return fc.oneof(
    fc.constant(null).map(cyclic),
    fc.constant(null).map(throwingGetter),
    fc.constant(null).map(hostileProxy),
    fc.constant(null).map(poisoned),
    fc.constant(Symbol("s")),
    fc.constant(() => 1),
    fc.constant(new Date(Number.NaN)),
    fc.uint8Array({ maxLength: 200 }),
    fc.string().map((s) => new Error(s)),
    fc.nat({ max: 400 }).map((n) => "x".repeat(n * 10)),
    fc.constant(new Map([[1, 2]])),
    fc.constant(Object.create(null)),
    fc.array(fc.nat(), { minLength: 33, maxLength: 60 }),
  );
}

const hostileKey = fc.oneof(
  fc.string(),
  fc.constantFrom("toString", "valueOf", "toJSON", "__proto__", "constructor", "hasOwnProperty"),
);

const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.anything({
      key: hostileKey,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withTypedArray: true,
      withSparseArray: true,
      maxDepth: 8,
    }),
    awkward(),
    fc.dictionary(hostileKey, tie("value"), { maxKeys: 4 }),
    fc.array(tie("value"), { maxLength: 3 }),
  ),
})).value;

describe("printing an error never throws, whatever its details hold", () => {
  it("property: build, message, stack, String, inspect, JSON and the short line", () => {
    fc.assert(
      fc.property(
        fc.dictionary(hostileKey, anyValue, { maxKeys: 6 }),
        anyValue,
        fc.string(),
        (details, cause, short) => {
          const err = new RelayError("FRAME_MALFORMED", short, details, { cause });
          expect(err.details).toBe(details);
          expect(typeof err.message).toBe("string");
          expect(err.message.startsWith(`${short}\n\nCode: FRAME_MALFORMED`)).toBe(true);
          expect(typeof String(err)).toBe("string");
          expect(typeof err.stack).toBe("string");
          expect(typeof inspect(err, { depth: 10 })).toBe("string");
          const json = JSON.parse(JSON.stringify(err)) as { code: string; details: unknown };
          expect(json.code).toBe("FRAME_MALFORMED");
          expect(typeof json.details).toBe("object");
          expect(typeof shortMessageOf(err)).toBe("string");
          expect(typeof shortMessageOf(cause)).toBe("string");
          // A details value of any shape (not only an object) is made JSON-safe too.
          expect(() => JSON.stringify(jsonSafeDetails(cause))).not.toThrow();
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("a key named __proto__ stays a key, and nothing is polluted", () => {
    const details = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    const safe = jsonSafeDetails(details);
    expect(Object.keys(safe)).toEqual(["__proto__", "a"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(new TollwayError("X", "m", { details }).message).toContain(
      '"__proto__":{"polluted":true}',
    );
  });
});

describe("Result", () => {
  it("a rejection is one small object; details only when given", () => {
    expect(Object.keys(reject("NONCE_NOT_INCREASING", "nonce 3 <= 5"))).toEqual([
      "ok",
      "code",
      "reason",
    ]);
    expect(reject("BAD_FLAG", "m", { flag: "--amount" })).toEqual({
      ok: false,
      code: "BAD_FLAG",
      reason: "m",
      details: { flag: "--amount" },
    });
  });
});

describe("shortMessageOf", () => {
  const unprintable = {
    toString() {
      throw new Error("no");
    },
  };
  it.each([
    [
      "a tollway error",
      new TollwayError("X", "the short one", { details: { a: 1 } }),
      "the short one",
    ],
    ["an Error", new Error("first\nsecond"), "first"],
    ["a string", "a string", "a string"],
    ["null", null, "null"],
    ["an object that cannot be printed", unprintable, "unprintable error"],
  ])("%s", (_name, err, line) => {
    expect(shortMessageOf(err)).toBe(line);
  });
});
