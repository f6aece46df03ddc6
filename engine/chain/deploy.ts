/**
 * Deploys Token and PaymentChannels, and beside them nitro-protocol's NitroAdjudicator,
 * ConsensusApp and VirtualPaymentApp (from the installed package's artifacts); saves and reuses
 * the addresses per chain.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type BaseContract, ContractFactory, type Provider, type Signer } from "ethers";
import type { Address } from "../../channels/index.ts";
import {
  ChainError,
  loadArtifact,
  loadNitroArtifact,
  MAX_SETTLE_WINDOW_SECONDS,
  MIN_SETTLE_WINDOW_SECONDS,
  waitForReceipt,
} from "../../channels/index.ts";

/** Where the Nitro contracts of a deployment live. */
export interface NitroDeployment {
  readonly adjudicator: Address;
  readonly consensusApp: Address;
  readonly virtualPaymentApp: Address;
  /** The first block holding one of them: where a scan of the adjudicator's logs starts. */
  readonly deployedAtBlock: number;
}

/** Where a deployment lives and how it was made. */
export interface Deployment {
  readonly chainId: string;
  readonly token: Address;
  readonly channels: Address;
  readonly feeBps: number;
  /** PaymentChannels' block. */
  readonly deployedAtBlock: number;
  /** Absent from deployments saved before the Nitro contracts were deployed beside the others. */
  readonly nitro?: NitroDeployment;
}

/** The Nitro contracts, in the order they are deployed. */
const NITRO_CONTRACTS = ["NitroAdjudicator", "ConsensusApp", "VirtualPaymentApp"] as const;

/** What to deploy. */
export interface DeployOptions {
  readonly tokenName?: string;
  readonly tokenSymbol?: string;
  /** Initial holders and their amounts (base units); the supply is their sum, minted once. */
  readonly holders: readonly { address: Address; amount: bigint }[];
  readonly feeRecipient?: Address;
  readonly feeBps?: number;
  /** Default {@link MIN_SETTLE_WINDOW_SECONDS} (10 s). */
  readonly minSettleWindow?: number;
  /** Default {@link MAX_SETTLE_WINDOW_SECONDS} (30 days). */
  readonly maxSettleWindow?: number;
}

/**
 * Deploys a fresh Token and PaymentChannels, then the Nitro contracts, from `deployer`, on a
 * chain that mines on each transaction or on a timer.
 * @throws ChainError TX_REVERTED, TX_NOT_MINED, RPC_TIMEOUT, RPC_UNREACHABLE, ARTIFACTS_MISSING
 */
export async function deployContracts(
  deployer: Signer,
  opts: DeployOptions,
): Promise<Deployment & { readonly nitro: NitroDeployment }> {
  const provider = deployer.provider;
  if (!provider) throw new TypeError("the deployer has no provider");
  const tokenArt = loadArtifact("Token");
  const channelsArt = loadArtifact("PaymentChannels");
  const token = await new ContractFactory(tokenArt.abi, tokenArt.bytecode, deployer).deploy(
    opts.tokenName ?? "tollway token",
    opts.tokenSymbol ?? "TOLL",
    opts.holders.map((h) => h.address),
    opts.holders.map((h) => h.amount),
  );
  await deployed(provider, token, "Token");
  const channels = await new ContractFactory(
    channelsArt.abi,
    channelsArt.bytecode,
    deployer,
  ).deploy(
    await token.getAddress(),
    opts.feeRecipient ?? "0x0000000000000000000000000000000000000000",
    opts.feeBps ?? 0,
    opts.minSettleWindow ?? MIN_SETTLE_WINDOW_SECONDS,
    opts.maxSettleWindow ?? MAX_SETTLE_WINDOW_SECONDS,
  );
  // Sent before PaymentChannels is mined, so that on a chain mining on a timer all four
  // creations wait for one block; PaymentChannels keeps the deployer's second nonce.
  const nitro = await sendNitro(deployer, channels.deploymentTransaction()!.nonce + 1);
  const deployedAtBlock = await deployed(provider, channels, "PaymentChannels");
  return {
    chainId: (await provider.getNetwork()).chainId.toString(),
    token: (await token.getAddress()) as Address,
    channels: (await channels.getAddress()) as Address,
    feeBps: opts.feeBps ?? 0,
    deployedAtBlock,
    nitro: await nitroDeployed(provider, nitro),
  };
}

/**
 * Deploys NitroAdjudicator, ConsensusApp and VirtualPaymentApp alone from `deployer` (a chain
 * that already has the others, a test fixture).
 * @throws ChainError TX_REVERTED, TX_NOT_MINED, RPC_TIMEOUT, RPC_UNREACHABLE, ARTIFACTS_MISSING
 */
export async function deployNitroContracts(deployer: Signer): Promise<NitroDeployment> {
  const provider = deployer.provider;
  if (!provider) throw new TypeError("the deployer has no provider");
  const nonce = await provider.getTransactionCount(await deployer.getAddress(), "pending");
  return nitroDeployed(provider, await sendNitro(deployer, nonce));
}

/**
 * Sends the Nitro contracts' creations one after the other with consecutive nonces from
 * `nonce`, without waiting for them to be mined.
 */
async function sendNitro(deployer: Signer, nonce: number): Promise<BaseContract[]> {
  const sent: BaseContract[] = [];
  for (const [i, name] of NITRO_CONTRACTS.entries()) {
    const art = loadNitroArtifact(name);
    const factory = new ContractFactory(art.abi, art.bytecode, deployer);
    sent.push(await factory.deploy({ nonce: nonce + i }));
  }
  return sent;
}

/** Waits for the Nitro creations `sendNitro` sent and returns where they live. */
async function nitroDeployed(provider: Provider, sent: BaseContract[]): Promise<NitroDeployment> {
  const blocks = await Promise.all(
    sent.map((contract, i) => deployed(provider, contract, NITRO_CONTRACTS[i]!)),
  );
  const [adjudicator, consensusApp, virtualPaymentApp] = (await Promise.all(
    sent.map((contract) => contract.getAddress()),
  )) as Address[];
  return {
    adjudicator: adjudicator!,
    consensusApp: consensusApp!,
    virtualPaymentApp: virtualPaymentApp!,
    deployedAtBlock: Math.min(...blocks),
  };
}

/**
 * Waits for a contract's creation to be mined and returns its block. (ethers' own
 * `waitForDeployment` leaves block listeners behind on a chain that mines on a timer; see
 * `waitForReceipt`.)
 */
async function deployed(provider: Provider, contract: BaseContract, name: string) {
  const hash = contract.deploymentTransaction()?.hash;
  if (!hash) throw new TypeError(`${name} was not deployed by this call`);
  const receipt = await waitForReceipt(provider, hash, { what: `deploy ${name}` });
  if (receipt.status !== 1)
    throw new ChainError("TX_REVERTED", `deploying ${name} reverted (${hash})`, {
      details: { hash },
    });
  return receipt.blockNumber;
}

/** The file a chain's deployment is saved in, under `dataDir`. */
export function deploymentFile(dataDir: string, chainId: bigint): string {
  return join(dataDir, "deployments", `${chainId}.json`);
}

/** Saves a deployment for later runs. */
export async function saveDeployment(dataDir: string, d: Deployment): Promise<string> {
  const file = deploymentFile(dataDir, BigInt(d.chainId));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(d, null, 2)}\n`);
  return file;
}

/**
 * The saved deployment for the provider's chain, if there is one and its contract still has code
 * (an embedded chain forgets everything when it stops). A file saved before the Nitro contracts
 * were deployed loads as it is, without `nitro`.
 */
export async function loadDeployment(
  dataDir: string,
  provider: Provider,
): Promise<Deployment | undefined> {
  const chainId = (await provider.getNetwork()).chainId;
  let saved: Deployment;
  try {
    saved = JSON.parse(await readFile(deploymentFile(dataDir, chainId), "utf8")) as Deployment;
  } catch {
    return undefined;
  }
  return (await provider.getCode(saved.channels)) === "0x" ? undefined : saved;
}
