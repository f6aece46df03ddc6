/**
 * Hardhat's embedded network (EDR) started from code, with no project config: in process as an
 * EIP-1193 provider, or served as JSON-RPC on loopback for roles in other processes.
 */
import type { Eip1193Provider } from "ethers";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";

/** The chain id of the embedded network. */
export const EMBEDDED_CHAIN_ID = 31337n;

/** A running embedded chain. */
export interface EmbeddedChain {
  /** In-process EIP-1193 provider (absent when served: use `url`). */
  readonly provider?: Eip1193Provider;
  /** JSON-RPC URL when served on loopback. */
  readonly url?: string;
  stop(): Promise<void>;
}

const NETWORK = {
  type: "edr-simulated",
  chainType: "l1",
  hardfork: "cancun",
  // Blocks carry real time, so settle windows pass as they would on a live chain.
  allowBlocksWithSameTimestamp: false,
} as const;

async function runtime() {
  return createHardhatRuntimeEnvironment({ networks: { default: NETWORK } } as never);
}

/**
 * Starts the embedded chain in this process.
 * @example const chain = await startEmbeddedChain(); const provider = providerFor(chain.provider!);
 */
export async function startEmbeddedChain(): Promise<EmbeddedChain> {
  const hre = await runtime();
  const connection = await hre.network.connect();
  return {
    provider: connection.provider as unknown as Eip1193Provider,
    stop: () => connection.close(),
  };
}

/**
 * Starts the embedded chain as a JSON-RPC server on `host:port` (port 0: any free port).
 * @throws Error with code EADDRINUSE when the port is taken.
 */
export async function serveEmbeddedChain(host = "127.0.0.1", port = 8545): Promise<EmbeddedChain> {
  const hre = await runtime();
  const server = await hre.network.createServer("default", host, port);
  const bound = await server.listen();
  return { url: `http://${bound.address}:${bound.port}`, stop: () => server.close() };
}
