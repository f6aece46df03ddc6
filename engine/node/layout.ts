/**
 * Where an account's files live in a data directory, the same for every role and command:
 *
 *   <dataDir>/<address>/channels   the channel store (level)
 *   <dataDir>/<address>/watcher    the dispute watcher's store (level)
 *   <dataDir>/<address>/node.sock  the running node's control socket (0600)
 *
 * `<address>` is the account in lowercase hex. Stores of older releases (the provider's
 * `<dataDir>/provider/<address>/channels`, the requester's `<dataDir>/requester/<address>`) are
 * moved here by {@link migrateLegacyStores} before a store is opened.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { type Address, ChannelStore } from "../../channels/index.ts";

/** The paths of one account in a data directory. */
export interface AccountLayout {
  readonly dir: string;
  readonly channels: string;
  readonly watcher: string;
  readonly socket: string;
}

/** The paths of `address` under `dataDir`. */
export function accountLayout(dataDir: string, address: Address): AccountLayout {
  const dir = join(dataDir, address.toLowerCase());
  return {
    dir,
    channels: join(dir, "channels"),
    watcher: join(dir, "watcher"),
    socket: join(dir, "node.sock"),
  };
}

/** Where older releases kept `address`'s channel stores, newest layout first. */
export function legacyStoreDirs(dataDir: string, address: Address): string[] {
  const a = address.toLowerCase();
  return [join(dataDir, "provider", a, "channels"), join(dataDir, "requester", a)];
}

/** What a migration did. */
export interface MigrationReport {
  /** Legacy stores whose channels are now in the account's store (renamed `*.migrated`). */
  readonly migrated: readonly string[];
  /** Channels copied in (those the account's store did not hold yet). */
  readonly channels: number;
}

/**
 * Creates the account's directory (0700) and moves any legacy channel store into
 * `<dataDir>/<address>/channels`: the first one found is renamed in place when the new store does
 * not exist yet (one atomic step); otherwise its channels are copied into the new store, each only
 * when the new store does not hold it (what the new store holds is never older: it came from the
 * legacy store or was written after the move). A legacy store is then renamed to `<dir>.migrated`,
 * kept, never deleted. Safe to run again after a crash at any point.
 * @throws ChannelError STORE_* when a store cannot be opened (e.g. STORE_LOCKED: a node of an
 *   older release still runs on it).
 */
export async function migrateLegacyStores(
  dataDir: string,
  address: Address,
): Promise<MigrationReport> {
  const layout = accountLayout(dataDir, address);
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  await chmod(layout.dir, 0o700);
  const migrated: string[] = [];
  let channels = 0;
  for (const legacy of legacyStoreDirs(dataDir, address)) {
    if (!existsSync(legacy)) continue;
    if (!existsSync(layout.channels)) {
      // Check that it is a store (and not in use) before moving it.
      const probe = await ChannelStore.open(legacy, { createIfMissing: false });
      channels += (await probe.loadAll()).length;
      await probe.close();
      await rename(legacy, layout.channels);
      migrated.push(legacy);
      continue;
    }
    const from = await ChannelStore.open(legacy, { createIfMissing: false });
    try {
      const to = await ChannelStore.open(layout.channels);
      try {
        for (const ch of await from.loadAll()) {
          if ((await to.loadChannel(ch.params.channelId)) !== undefined) continue;
          await to.putChannel(ch);
          channels++;
        }
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
    await rename(legacy, `${legacy}.migrated`);
    migrated.push(legacy);
  }
  return { migrated, channels };
}
