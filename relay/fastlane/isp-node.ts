/**
 * An ISP's fast-lane node: a relay provider node that sells `qos` lanes per second. It answers
 * quotes, finds the requester's channel on chain, opens the lane on credit (a path pays no hop
 * before every hop's lane is up), and from then on the session's credit window is the lane's
 * lease: each durable payment extends it, and the lane goes when it runs out or the session ends.
 */
import {
  createProviderNode,
  type ProviderNode,
  type ProviderNodeOptions,
} from "../provider/node.ts";
import type { QosDriver } from "../tunnel/qos/qos-driver.ts";

/** Options of `createIspNode`. */
export interface IspNodeOptions
  extends Omit<ProviderNodeOptions, "drivers" | "pricing" | "verifyThreads"> {
  readonly driver: QosDriver;
  /** Price of each started second of a lane, token base units. */
  readonly pricePerSecond: bigint;
  /** What a lane may owe; at least one second's price (the lane opens on it). */
  readonly creditLimit: bigint;
  /** WARN to teardown once the credit is used up, ms (default 1,000). */
  readonly graceMs?: number;
}

/**
 * Starts an ISP's fast-lane node on the WebSocket port of `opts`.
 * @throws RangeError when the credit cannot cover the first second
 * @example
 * const qos = await createQosDriver({ device: "eth1", linkRateKbit: 100_000 });
 * const isp = await createIspNode({ key, settlement, storeDir, driver: qos,
 *   pricePerSecond: 10n ** 14n, creditLimit: 2n * 10n ** 14n });
 */
export function createIspNode(opts: IspNodeOptions): Promise<ProviderNode> {
  if (opts.creditLimit < opts.pricePerSecond) {
    throw new RangeError("a lane opens on credit: creditLimit must cover one second's price");
  }
  const { driver, pricePerSecond, creditLimit, graceMs, ...node } = opts;
  return createProviderNode({
    ...node,
    drivers: [driver],
    pricing: {
      second: {
        unitPrice: pricePerSecond,
        creditLimit,
        graceMs: graceMs ?? 1_000,
        activateOnCredit: true,
      },
    },
    // A lane is paid once a second: one verifier thread is plenty.
    verifyThreads: 1,
  });
}
