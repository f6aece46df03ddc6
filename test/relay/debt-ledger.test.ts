/**
 * The provider's debt ledger on a real level database: marks survive a reopen, the newest of a
 * burst wins, and a damaged record (any bytes) is a typed STORE_CORRUPT, never a wrong amount.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isChannelError } from "../../channels/errors.ts";
import type { ChannelId } from "../../channels/types.ts";
import { DebtLedger } from "../../relay/provider/debt-ledger.ts";
import { removeDir } from "./helpers.ts";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "tollway-ledger-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) removeDir(d);
});
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as ChannelId;
const noError = (err: unknown) => {
  throw err;
};

describe("debt ledger", () => {
  it("keeps the newest mark of each channel across a reopen (property)", async () => {
    const dir = fresh();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(7), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n })), {
          minLength: 1,
          maxLength: 30,
        }),
        async (marks) => {
          const ledger = await DebtLedger.open(dir, noError);
          const expected = new Map<number, bigint>();
          for (const [n, v] of marks) {
            ledger.record(id(n), v);
            expected.set(n, v);
          }
          // Read back before and after the write lands, and after a reopen.
          for (const [n, v] of expected) expect(await ledger.billedTo(id(n))).toBe(v);
          await ledger.close();
          const again = await DebtLedger.open(dir, noError);
          for (const [n, v] of expected) expect(await again.billedTo(id(n))).toBe(v);
          expect(await again.billedTo(id(99))).toBeUndefined();
          await again.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it("reports a damaged record as STORE_CORRUPT, whatever its bytes", async () => {
    const dir = fresh();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.constantFrom("", "-1", "1e3", "0x10", "__proto__", "toString", "9".repeat(79), " 1"),
        ),
        async (text) => {
          const db = new ClassicLevel<string, string>(join(dir, "ledger"), {
            valueEncoding: "utf8",
          });
          await db.put(id(1).slice(2), text);
          await db.close();
          const ledger = await DebtLedger.open(dir, noError);
          const read = await ledger.billedTo(id(1)).then(
            (v) => ({ ok: true as const, v }),
            (err: unknown) => ({ ok: false as const, err }),
          );
          if (read.ok) expect(read.v).toBe(BigInt(text));
          else expect(isChannelError(read.err, "STORE_CORRUPT")).toBe(true);
          // Valid marks are plain decimal numbers of up to 78 digits, nothing else.
          expect(read.ok).toBe(/^\d{1,78}$/.test(text));
          await ledger.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
