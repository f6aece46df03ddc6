/**
 * tollway as a library: the roles the CLI runs (market, provider, requester), the embedded chain
 * and deployment, and the demo. Embed these to run tollway without the CLI.
 *
 * @example
 * const market = await createMarket({ dir: "./data/market", chainId: 31337 });
 * const { settlement } = await connectPaymentChannels({ signer: wallet.connect(rpc), deployment });
 * const provider = await createProvider({ wallet, settlement, dataDir: "./data/provider", marketUrl: market.url, pricing });
 * const theirs = await connectPaymentChannels({ signer: other.connect(rpc), deployment });
 * const requester = createRequester({ wallet: other, settlement: theirs.settlement, marketUrl: market.url });
 * // Or buy a deal and pay for it over a channel in one piece:
 * const deal = createDealChannel({ wallet: other, settlement: theirs.settlement, marketUrl: market.url, relay: provider.url, deposit, settleWindow: 600 });
 */
export type { Deployment, DeployOptions, EmbeddedChain, NitroDeployment } from "./chain/index.ts";
export {
  deployContracts,
  devWallet,
  loadDeployment,
  saveDeployment,
  serveEmbeddedChain,
  startEmbeddedChain,
} from "./chain/index.ts";
export type { DemoOptions, DemoProgress, DemoSummary } from "./demo/index.ts";
export { runDemo } from "./demo/index.ts";
export type {
  DealChannel,
  DealChannelEnd,
  DealChannelOptions,
  DealView,
  PaymentChannelsAccount,
  PaymentChannelsAccountOptions,
  Provider,
  ProviderOptions,
  Requester,
  RequesterChannel,
  RequesterOptions,
  RunningMarket,
} from "./node/index.ts";
export {
  connectPaymentChannels,
  createDealChannel,
  createMarket,
  createProvider,
  createRequester,
  MarketClient,
  startServingDeals,
} from "./node/index.ts";
