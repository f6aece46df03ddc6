/** The proxy's destination rules, host reading and lookup gate: pure, no traffic. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  judgeAddress,
  ownAddressList,
  parseDestinationRules,
  SPECIAL_IPV4,
  SPECIAL_IPV6,
  unmapIPv4,
} from "../../../relay/tunnel/proxy/destination-rules.ts";
import { LookupGate } from "../../../relay/tunnel/proxy/lookup-gate.ts";
import { readHost } from "../../../relay/tunnel/proxy/resolve-destination.ts";

const defaults = parseDestinationRules();
const nobody = ownAddressList([]);
const judge = (address: string, port = 443, rules = defaults, own = nobody) =>
  judgeAddress(rules, address, port, own);

const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const v4int = (a: string) => a.split(".").reduce((n, p) => n * 256 + Number(p), 0);
const v6 = (n: bigint) =>
  Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(
    ":",
  );
const v6int = (a: string): bigint => {
  const [head, tail] = a.split("::") as [string, string | undefined];
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => BigInt(`0x${g}`)));
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = [...h, ...new Array<bigint>(8 - h.length - t.length).fill(0n), ...t];
  return groups.reduce((n, g) => (n << 16n) | g, 0n);
};

/** An address inside `cidr`, chosen by `pick`. */
const inside4 = (cidr: string, pick: number) => {
  const [net, prefix] = cidr.split("/");
  const size = 2 ** (32 - Number(prefix));
  return v4(v4int(net!) + (pick % size));
};
const inside6 = (cidr: string, pick: bigint) => {
  const [net, prefix] = cidr.split("/");
  const hostBits = BigInt(128 - Number(prefix));
  return v6(v6int(net!) + (pick & ((1n << hostBits) - 1n)));
};

/** The spellings of an IPv4-mapped IPv6 address. */
const mappedSpellings = (a: string) => {
  const n = v4int(a);
  const hi = (n >>> 16).toString(16);
  const lo = (n & 0xffff).toString(16);
  return [`::ffff:${a}`, `::ffff:${hi}:${lo}`, `0:0:0:0:0:FFFF:${hi}:${lo}`, `::FFFF:${a}`];
};

describe("special-purpose addresses", () => {
  it.each([
    ...SPECIAL_IPV4.map((c) => c.split("/")[0]!),
    "127.0.0.1",
    "127.255.255.255",
    "169.254.169.254",
    "255.255.255.255",
    "0.0.0.0",
    "::",
    "::1",
    "::127.0.0.1",
    "fe80::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
    "2001::1",
    "2002:c000:204::1",
    "64:ff9b::7f00:1",
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::1",
    "100::1",
    "::ffff:0:7f00:1",
  ])("refuses %s", (a) => {
    expect(judge(a)).toMatchObject({ ok: false, code: "SPECIAL_PURPOSE_ADDRESS" });
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "223.255.255.255",
    "2606:4700::1111",
    "2a00:1450::1",
    "64:ff9b::808:808", // NAT64 of a public address
    "::ffff:8.8.8.8",
  ])("serves %s", (a) => {
    expect(judge(a)).toEqual({ ok: true });
  });

  it("refuses every address of every special IPv4 range, in every spelling", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SPECIAL_IPV4),
        fc.nat(),
        fc.integer({ min: 1, max: 65535 }),
        (cidr, pick, port) => {
          const a = inside4(cidr, pick);
          for (const spelling of [a, ...mappedSpellings(a), `64:ff9b::${a}`]) {
            expect([spelling, judge(spelling, port).ok]).toEqual([spelling, false]);
          }
        },
      ),
    );
  });

  it("refuses every address of every special IPv6 range", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SPECIAL_IPV6),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        (cidr, pick) => {
          const a = inside6(cidr, pick);
          expect([a, judge(a).ok]).toEqual([a, false]);
        },
      ),
    );
  });

  it("judges an IPv4-mapped address exactly as its IPv4 address", () => {
    const rules = parseDestinationRules(["127.0.0.1/32:8080"], ["203.0.113.0/24", "*:25"]);
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 65535 }), (n, port) => {
        const a = v4(n);
        const expected = judge(a, port, rules);
        for (const spelling of mappedSpellings(a)) {
          expect(judge(spelling, port, rules)).toEqual(expected);
          expect(unmapIPv4(spelling)).toBe(a);
        }
      }),
    );
  });

  it("refuses scoped and malformed addresses", () => {
    for (const a of ["fe80::1%eth0", "2606:4700::1%1", "", "localhost", "127.1", "1.2.3.4.5"]) {
      expect(judge(a).ok).toBe(false);
    }
  });
});

describe("allow and deny", () => {
  it("deny refuses public addresses and ports; allow wins over deny and the default", () => {
    const rules = parseDestinationRules(
      ["127.0.0.1/32:8080", "[::1]:8080-8081", "10.1.0.0/16"],
      ["*:25", "203.0.114.0/24", "[2606:4700::/32]:443", "8.8.4.4"],
    );
    const cases: [string, number, boolean][] = [
      ["8.8.8.8", 25, false],
      ["8.8.8.8", 80, true],
      ["203.0.114.9", 80, false],
      ["2606:4700::1111", 443, false],
      ["2606:4700::1111", 80, true],
      ["8.8.4.4", 53, false],
      ["127.0.0.1", 8080, true],
      ["::ffff:127.0.0.1", 8080, true],
      ["127.0.0.1", 8081, false],
      ["127.0.0.2", 8080, false],
      ["::1", 8081, true],
      ["::1", 8082, false],
      ["10.1.2.3", 25, true], // allow wins over `*:25`
      ["10.2.0.1", 80, false],
    ];
    for (const [a, port, ok] of cases)
      expect([a, port, judge(a, port, rules).ok]).toEqual([a, port, ok]);
  });

  it("an IPv6 rule never covers IPv4 addresses", () => {
    const rules = parseDestinationRules([], ["::/0"]);
    expect(judge("8.8.8.8", 80, rules)).toEqual({ ok: true });
    expect(judge("::ffff:8.8.8.8", 80, rules)).toEqual({ ok: true });
    expect(judge("2606:4700::1111", 80, rules)).toMatchObject({
      ok: false,
      code: "DENIED_BY_RULE",
    });
  });

  it("refuses the provider's own addresses", () => {
    const own = ownAddressList(["198.51.100.7", "8.8.8.8", "2606:4700::1%eth0", "not an address"]);
    expect(judge("8.8.8.8", 22, defaults, own)).toMatchObject({ ok: false, code: "OWN_ADDRESS" });
    expect(judge("::ffff:8.8.8.8", 22, defaults, own).ok).toBe(false);
    expect(judge("2606:4700::1", 22, defaults, own).ok).toBe(false);
    expect(judge("8.8.4.4", 22, defaults, own).ok).toBe(true);
  });

  it("parses or refuses any string, with a code", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.constantFrom(
            "__proto__",
            "constructor",
            "toString",
            "*:",
            "[*]:80",
            "1.2.3.4/",
            "::/",
          ),
        ),
        (entry) => {
          try {
            const rules = parseDestinationRules([entry], [entry]);
            judge("8.8.8.8", 80, rules);
          } catch (err) {
            expect((err as { code?: string }).code).toBe("TUNNEL_PARAMS_INVALID");
          }
        },
      ),
    );
  });

  it("refuses any list that is not a list of rules, with a code", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true }), (value) => {
        for (const lists of [[value], [[value]], [[], value]] as unknown as Parameters<
          typeof parseDestinationRules
        >[]) {
          try {
            parseDestinationRules(...lists);
          } catch (err) {
            expect((err as { code?: string }).code).toBe("TUNNEL_PARAMS_INVALID");
          }
        }
      }),
    );
  });
});

describe("reading a requested host", () => {
  it.each([
    ["[::1]", { kind: "ip", address: "::1" }],
    ["::1", { kind: "ip", address: "::1" }],
    ["127.0.0.1.", { kind: "ip", address: "127.0.0.1" }],
    ["localhost.", { kind: "name", name: "localhost" }],
    ["127.1", { kind: "name", name: "127.1" }],
    ["0x7f.1", { kind: "name", name: "0x7f.1" }],
    ["_dmarc.example.test", { kind: "name", name: "_dmarc.example.test" }],
    ["__proto__", { kind: "name", name: "__proto__" }],
    ["", { kind: "invalid" }],
    [".", { kind: "invalid" }],
    ["[]", { kind: "invalid" }],
    ["a..b", { kind: "invalid" }],
    ["-a.test", { kind: "invalid" }],
    ["a b", { kind: "invalid" }],
    ["local\0host", { kind: "invalid" }],
    [`${"a".repeat(64)}.test`, { kind: "invalid" }],
    [Array.from({ length: 64 }, () => "abc").join("."), { kind: "invalid" }],
  ])("%j", (host, expected) => {
    expect(readHost(host)).toEqual(expected);
  });
});

describe("lookup gate", () => {
  it("never runs more than its slots, runs every task, in arrival order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }),
        async (slots, delays) => {
          const gate = new LookupGate(slots);
          let running = 0;
          let most = 0;
          const started: number[] = [];
          const never = new AbortController().signal;
          await Promise.all(
            delays.map((ms, i) =>
              gate.run(async () => {
                started.push(i);
                running++;
                most = Math.max(most, running);
                await new Promise((r) => setTimeout(r, ms));
                running--;
                return i;
              }, never),
            ),
          );
          expect(most).toBeLessThanOrEqual(slots);
          expect(started).toEqual(delays.map((_, i) => i));
          expect(gate.waiting).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("a waiting task leaves on abort; a running one keeps its slot until it settles", async () => {
    const gate = new LookupGate(1);
    let finish!: () => void;
    const stuck = new AbortController();
    const first = gate.run(() => new Promise<void>((r) => (finish = r)), stuck.signal);
    const waiter = new AbortController();
    const second = gate.run(async () => "ran", waiter.signal);
    expect(gate.waiting).toBe(1);
    const gone = new Error("gone");
    waiter.abort(gone);
    await expect(second).rejects.toBe(gone);
    expect(gate.waiting).toBe(0);
    const timedOut = new Error("timed out");
    stuck.abort(timedOut);
    await expect(first).rejects.toBe(timedOut);
    let ran = false;
    const third = gate.run(async () => {
      ran = true;
    }, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toBe(false);
    finish();
    await third;
    expect(ran).toBe(true);
  });
});
