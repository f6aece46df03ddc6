/** A market served over HTTP and WebSocket on loopback (or any host). */
import type { FastifyInstance } from "fastify";
import { buildMarketServer, MarketService, type MarketServiceOptions } from "../market/index.ts";

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
  opts: MarketServiceOptions & { host?: string; port?: number },
): Promise<RunningMarket> {
  const service = await MarketService.open(opts);
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
