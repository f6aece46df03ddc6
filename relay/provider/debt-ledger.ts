/**
 * What each channel has been billed, kept by the provider node across sessions and restarts, so
 * that credit is the channel's and not the session's: a session opens owing what the channel's
 * earlier sessions left unpaid (or with the credit of what they were paid ahead and never used).
 *
 * One record per channel, `billedTo`: the cumulative transferred amount that pays for everything
 * billed on the channel so far. Its balance is `billedTo − durable transferred`: a debt when
 * positive, a credit when negative. The mark only grows. Records live in a level database of
 * their own in the channel store's directory (`<storeDir>/ledger`), written behind the sessions
 * (at each USAGE tick and at each close, never on a payment's path) in one synced batch every
 * 100 ms: a crash forgets at most the billing of the last tick and those 100 ms.
 */
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import type { ChannelId } from "../../channels/index.ts";
import { ChannelError } from "../../channels/index.ts";

/** A channel's balance: its debt when positive, what it was paid ahead when negative. */
export function balanceOf(billedTo: bigint, durableTransferred: bigint): bigint {
  return billedTo - durableTransferred;
}

/** How long recorded marks gather before one synced write. */
const COMMIT_EVERY_MS = 100;

const DIGITS = /^\d{1,78}$/;

/** The ledger's level database: channel id (64 hex digits) → `billedTo` in decimal. */
export class DebtLedger {
  readonly #db: ClassicLevel<string, string>;
  #pending = new Map<string, string>();
  #writing: Promise<void> | null = null;
  #onError: (err: unknown) => void;

  private constructor(db: ClassicLevel<string, string>, onError: (err: unknown) => void) {
    this.#db = db;
    this.#onError = onError;
  }

  /**
   * Opens (or creates) the ledger beside a channel store.
   * @param storeDir - the channel store's directory; the ledger is its `ledger` subdirectory
   * @param onError - where failed background writes are reported
   * @throws ChannelError STORE_OPEN_FAILED when the database cannot open
   */
  static async open(storeDir: string, onError: (err: unknown) => void): Promise<DebtLedger> {
    const db = new ClassicLevel<string, string>(join(storeDir, "ledger"), {
      keyEncoding: "utf8",
      valueEncoding: "utf8",
    });
    try {
      await db.open();
    } catch (err) {
      throw new ChannelError("STORE_OPEN_FAILED", "cannot open the debt ledger", { storeDir }, err);
    }
    return new DebtLedger(db, onError);
  }

  /**
   * The channel's `billedTo` mark, or undefined when no session of it was ever billed here.
   * @throws ChannelError STORE_CORRUPT when the record is not a number
   */
  async billedTo(channelId: ChannelId): Promise<bigint | undefined> {
    const key = channelId.slice(2);
    const raw = this.#pending.get(key) ?? (await this.#db.get(key));
    if (raw === undefined) return undefined;
    if (!DIGITS.test(raw)) {
      throw new ChannelError("STORE_CORRUPT", "debt record is not a number", { key });
    }
    return BigInt(raw);
  }

  /** Records a channel's new mark, written behind with the others of the next 100 ms. */
  record(channelId: ChannelId, billedTo: bigint): void {
    this.#pending.set(channelId.slice(2), billedTo.toString());
    this.#writing ??= new Promise<void>((resolve) => setTimeout(resolve, COMMIT_EVERY_MS)).then(
      () => this.#commit(),
    );
  }

  /** Resolves once every mark recorded so far is durable (or its failure reported). */
  async flush(): Promise<void> {
    while (this.#writing !== null) await this.#writing;
  }

  /** Writes what is pending and closes the database. */
  async close(): Promise<void> {
    await this.flush();
    await this.#db.close();
  }

  async #commit(): Promise<void> {
    const batch = [...this.#pending].map(([key, value]) => ({ type: "put" as const, key, value }));
    this.#pending = new Map();
    try {
      await this.#db.batch(batch, { sync: true });
    } catch (err) {
      this.#onError(new ChannelError("STORE_WRITE_FAILED", "debt ledger write failed", {}, err));
    } finally {
      this.#writing = this.#pending.size > 0 ? this.#commit() : null;
    }
  }
}
