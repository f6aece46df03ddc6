/**
 * What every provider and requester node runs beside its sessions: the dispute watcher over its
 * own channels (on by default) and the control socket through which the CLI reaches it.
 */
import {
  type Address,
  type ChannelId,
  type ChannelState,
  type SettlementBackend,
  shortMessageOf,
  startWatcher,
  type Watcher,
} from "../../channels/index.ts";
import { closeWithProof } from "./channel-actions.ts";
import { type ControlServer, startControlServer } from "./control-server.ts";
import type { AccountLayout } from "./layout.ts";

/** Options of {@link startNodeServices}. */
export interface NodeServicesOptions {
  /** The chain, through the settlement interface, acting for `address`. */
  readonly settlement: SettlementBackend;
  readonly address: Address;
  readonly role: "provider" | "requester";
  readonly layout: AccountLayout;
  /** The node's durable view of a channel (memory, else its store). */
  readonly loadChannel: (id: ChannelId) => Promise<ChannelState | undefined>;
  /** First block with channels of ours (the deployment's block); where a new watcher starts. */
  readonly fromBlock: number;
  /** Run the dispute watcher (default true). */
  readonly watch?: boolean;
  /** Watcher poll interval, ms (default 2,000). */
  readonly pollIntervalMs?: number;
  /** Serve the control socket (default true). */
  readonly control?: boolean;
  /** One line per thing worth telling the operator (a dispute, a settle, a failure). */
  readonly log: (line: string) => void;
}

/** The running services. */
export interface NodeServices {
  readonly watcher?: Watcher;
  readonly control?: ControlServer;
  close(): Promise<void>;
}

/**
 * Starts the watcher (disputes a stale close with the newest proof received, settles when the
 * window ends) and the control socket. A control socket that cannot listen (e.g. a data dir so
 * deep that the path is too long) is logged and left off; the node still runs.
 */
export async function startNodeServices(opts: NodeServicesOptions): Promise<NodeServices> {
  const partnerProof = async (id: ChannelId) => (await opts.loadChannel(id))?.received ?? undefined;
  let watcher: Watcher | undefined;
  const events: string[] = [];
  const note = (line: string) => {
    // A chain that stays unreachable fails every poll the same way: say it once, not every poll.
    if (events.at(-1) === line) return;
    events.push(line);
    if (events.length > 100) events.shift();
    opts.log(line);
  };
  if (opts.watch !== false) {
    watcher = await startWatcher({
      settlement: opts.settlement,
      dir: opts.layout.watcher,
      fromBlock: opts.fromBlock,
      pollIntervalMs: opts.pollIntervalMs ?? 2_000,
      partnerProof,
    });
    watcher.on("closed", (id: string, at: number) =>
      note(`partner closed ${id}; window ends ${new Date(at * 1000).toISOString()}`),
    );
    watcher.on("updated", (id: string, proof: { nonce: bigint }) =>
      note(`answered the close of ${id} with our newest proof (nonce ${proof.nonce})`),
    );
    watcher.on("settled", (id: string) => note(`settled ${id}`));
    watcher.on("error", (err: unknown) => note(`watcher: ${shortMessageOf(err)}`));
    watcher.start();
  }
  let control: ControlServer | undefined;
  if (opts.control !== false) {
    try {
      control = await startControlServer(opts.layout.socket, {
        ping: async () => ({ address: opts.address, pid: process.pid, role: opts.role }),
        close: async ({ channelId }) => ({
          ...(await closeWithProof(
            opts.settlement,
            channelId,
            (await opts.loadChannel(channelId))?.received ?? undefined,
          )),
          via: "node",
        }),
        poll: async () => {
          if (!watcher) return { watching: false, events: [...events] };
          await watcher.poll();
          return {
            watching: true,
            watched: watcher.state.channels.size,
            cursor: watcher.state.cursor,
            events: [...events],
          };
        },
      });
    } catch (err) {
      opts.log(
        `control socket off (${shortMessageOf(err)}): \`tollway channel close\` cannot reach this node while it runs`,
      );
    }
  }
  return {
    ...(watcher ? { watcher } : {}),
    ...(control ? { control } : {}),
    async close() {
      await control?.close();
      await watcher?.stop();
    },
  };
}
