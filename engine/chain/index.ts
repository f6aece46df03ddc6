/** The chain side of the engine: the embedded network, deployment, and development accounts. */
export type { Deployment, DeployOptions, NitroDeployment } from "./deploy.ts";
export {
  deployContracts,
  deploymentFile,
  deployNitroContracts,
  loadDeployment,
  saveDeployment,
} from "./deploy.ts";
export { DEV_MNEMONIC, devWallet } from "./dev-accounts.ts";
export type { EmbeddedChain } from "./embedded.ts";
export { EMBEDDED_CHAIN_ID, serveEmbeddedChain, startEmbeddedChain } from "./embedded.ts";
export type { EmbeddedChainOptions } from "./mining.ts";
export { MAX_BLOCK_TIME_SECONDS } from "./mining.ts";
