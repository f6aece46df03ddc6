/**
 * Hardhat's embedded network (EDR) started from code, with no project config: in process as an
 * EIP-1193 provider, or served as JSON-RPC on loopback for roles in other processes. It mines on
 * each transaction by default, or on a timer like a public chain (`blockTimeSeconds`).
 */
import type { Eip1193Provider } from "ethers";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import { type EmbeddedChainOptions, miningConfig } from "./mining.ts";

/** The chain id of the embedded network. */
export const EMBEDDED_CHAIN_ID = 31337n;

/** A running embedded chain. */
export interface EmbeddedChain {
  /** In-process EIP-1193 provider (absent when served: use `url`). */
  readonly provider?: Eip1193Provider;
  /** JSON-RPC URL when served on loopback. */
  readonly url?: string;
  /** Seconds between blocks; 0 when every transaction is mined at once. */
  readonly blockTimeSeconds: number;
  stop(): Promise<void>;
}

/** The EDR network config for `opts`. */
function networkConfig(opts: EmbeddedChainOptions) {
  return {
    type: "edr-simulated",
    chainType: "l1",
    hardfork: "cancun",
    // Blocks carry real time, so settle windows pass as they would on a live chain.
    allowBlocksWithSameTimestamp: false,
    mining: miningConfig(opts),
  } as const;
}

async function runtime(opts: EmbeddedChainOptions) {
  return createHardhatRuntimeEnvironment({ networks: { default: networkConfig(opts) } });
}

/**
 * Starts the embedded chain in this process.
 * @throws RangeError on a bad `blockTimeSeconds`.
 * @example
 * const chain = await startEmbeddedChain({ blockTimeSeconds: 2 });
 * const provider = providerFor(chain.provider!);
 */
export async function startEmbeddedChain(opts: EmbeddedChainOptions = {}): Promise<EmbeddedChain> {
  const hre = await runtime(opts);
  const connection = await hre.network.connect();
  return {
    provider: connection.provider,
    blockTimeSeconds: opts.blockTimeSeconds ?? 0,
    stop: () => connection.close(),
  };
}

/**
 * Starts the embedded chain as a JSON-RPC server on `host:port` (port 0: any free port).
 * @throws Error with code EADDRINUSE when the port is taken; RangeError on a bad `blockTimeSeconds`.
 */
export async function serveEmbeddedChain(
  host = "127.0.0.1",
  port = 8545,
  opts: EmbeddedChainOptions = {},
): Promise<EmbeddedChain> {
  const hre = await runtime(opts);
  const server = await hre.network.createServer("default", host, port);
  const bound = await server.listen();
  return {
    url: `http://${bound.address}:${bound.port}`,
    blockTimeSeconds: opts.blockTimeSeconds ?? 0,
    stop: () => server.close(),
  };
}
