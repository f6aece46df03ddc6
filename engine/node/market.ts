/** A market served over HTTP and WebSocket on loopback (or any host). */
import type { FastifyInstance } from "fastify";
import {
  type Address,
  buildMarketServer,
  MarketService,
  type MarketServiceOptions,
} from "../market/index.ts";

/** A running market. */
export interface RunningMarket {
  readonly url: string;
  readonly service: MarketService;
  close(): Promise<void>;
}

/**
 * Opens the market's journal in `dir`, replays it, and serves the API.
 * @example const market = await createMarket({ dir: "./data/market" }); console.log(market.url);
 */
export async function createMarket(
  opts: MarketServiceOptions & {
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
    app = await buildMarketServer(service);
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
