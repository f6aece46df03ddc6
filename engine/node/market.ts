/**
 * A market served over HTTP and WebSocket on loopback (or any host), and what it reads from the
 * chain: the chain id its orders are signed for, and requesters' capacity.
 */
import { VoidSigner, ZeroAddress } from "ethers";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { providerFor } from "../../channels/index.ts";
import { loadDeployment } from "../chain/deploy.ts";
import {
  type Address,
  buildMarketServer,
  MarketError,
  type MarketServerOptions,
  MarketService,
  type MarketServiceOptions,
} from "../market/index.ts";
import { connectPaymentChannels } from "./payment-channels.ts";

/** A running market. */
export interface RunningMarket {
  readonly url: string;
  readonly service: MarketService;
  close(): Promise<void>;
}

/**
 * Opens the market's journal in `dir`, loads its snapshot and replays the rest, and serves the
 * API. `chainId` is required: orders are signed for one chain, and a market that assumed one
 * would refuse every order signed for another (`WRONG_SIGNER`).
 * @throws MarketError `NO_CHAIN_ID`, `JOURNAL_CORRUPT`; the listen error when the port is taken.
 * @example
 * const market = await createMarket({ dir: "./data/market", chainId: 31337 });
 * console.log(market.url);
 */
export async function createMarket(
  opts: MarketServiceOptions &
    MarketServerOptions & {
      host?: string;
      port?: number;
      /**
       * What a requester's channels can cover, read when it is matched (e.g. its token balance
       * on chain); without it balances are set by the operator (`SetBalance`).
       */
      capacityOf?: (address: Address) => Promise<bigint>;
    },
): Promise<RunningMarket> {
  const service = await MarketService.open(opts);
  if (opts.capacityOf) {
    const capacityOf = opts.capacityOf;
    service.observe((e) => {
      if (e.type !== "Matched") return;
      const address = e.deal.requester;
      capacityOf(address)
        .then((balance) => service.execute({ type: "SetBalance", address, balance }))
        .catch(() => undefined);
    });
  }
  let app: FastifyInstance;
  try {
    app = await buildMarketServer(service, opts);
    await app.listen({ host: opts.host ?? "127.0.0.1", port: opts.port ?? 0 });
  } catch (err) {
    await service.close();
    throw err;
  }
  const a = app.server.address();
  const port = typeof a === "object" && a ? a.port : 0;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    service,
    async close() {
      await app.close();
      await service.close();
    },
  };
}

/**
 * Reads a chain's id with `eth_chainId` over JSON-RPC (http(s) or ws(s)), giving up after
 * `timeoutMs`.
 * @throws MarketError `NO_CHAIN_ID` when the chain cannot be reached in time or answers
 *   something that is not a chain id.
 * @example const chainId = await readChainId("http://127.0.0.1:8545");
 */
export async function readChainId(rpc: string, timeoutMs = 3_000): Promise<number> {
  const request = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  let answer: unknown;
  try {
    answer = /^wss?:/.test(rpc)
      ? await overWebSocket(rpc, request, timeoutMs)
      : await (
          await fetch(rpc, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: request,
            signal: AbortSignal.timeout(timeoutMs),
          })
        ).json();
  } catch (cause) {
    throw new MarketError(
      "NO_CHAIN_ID",
      `cannot read the chain id from ${rpc}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const result = (answer as { result?: unknown } | null)?.result;
  const id = typeof result === "string" && /^0x[0-9a-f]{1,13}$/i.test(result) ? Number(result) : 0;
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new MarketError(
      "NO_CHAIN_ID",
      `${rpc} answered eth_chainId with ${JSON.stringify(answer)}`,
    );
  return id;
}

/** Requesters' capacity as the chain holds it, for {@link createMarket}'s `capacityOf`. */
export interface ChainCapacity {
  /** The token balance of `address`: what its channels could be funded with. */
  of(address: Address): Promise<bigint>;
  close(): void;
}

/**
 * Reads requesters' token balances from the chain at `rpc`, on the PaymentChannels deployment
 * at `channels` (default: the one saved in `dataDir` for that chain). The market signs nothing on
 * chain, so the client has no key: a void signer only names an account.
 * @returns undefined when no deployment is known for the chain.
 * @throws ChainError RPC_UNREACHABLE, RPC_TIMEOUT, NO_CONTRACT (and the chain's other read errors).
 */
export async function chainCapacity(
  rpc: string,
  dataDir: string,
  channels?: Address,
): Promise<ChainCapacity | undefined> {
  const provider = providerFor(rpc);
  try {
    const address = channels ?? (await loadDeployment(dataDir, provider))?.channels;
    if (!address) {
      provider.destroy();
      return undefined;
    }
    const { settlement } = await connectPaymentChannels({
      signer: new VoidSigner(ZeroAddress, provider),
      deployment: { channels: address },
    });
    return { of: (a) => settlement.balanceOf(a), close: () => provider.destroy() };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}

function overWebSocket(url: string, request: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: 64 * 1024 });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once("open", () => ws.send(request));
    ws.once("message", (data: Buffer) => {
      clearTimeout(timer);
      ws.close();
      try {
        resolve(JSON.parse(data.toString("utf8")));
      } catch (err) {
        reject(err);
      }
    });
    ws.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
