/** Connects a CLI command to the chain: provider, signer, deployment, the account on it. */
import { readFile, stat } from "node:fs/promises";
import type { Provider } from "ethers";
import {
  type Address,
  ChainError,
  providerFor,
  shortMessageOf,
  withRetry,
} from "../../channels/index.ts";
import { type Deployment, loadDeployment } from "../chain/deploy.ts";
import { connectPaymentChannels, type PaymentChannelsAccount } from "../node/payment-channels.ts";
import { type CliConfig, type ConfigSources, resolveConfig } from "./config.ts";
import { CliError } from "./errors.ts";
import { loadSigner } from "./wallet.ts";

/** What a chain command works with. */
export interface ChainContext {
  readonly config: CliConfig;
  readonly provider: Provider;
  /** The account on the deployment: its settlement backend, and the token operations. */
  readonly account: PaymentChannelsAccount;
  readonly me: Address;
  /** The first block worth reading events from. */
  readonly fromBlock: number;
  close(): void;
}

/** A config file holds a handful of settings; anything bigger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024;

/** Reads the config file (`--config`, TOLLWAY_CONFIG, or ./tollway.config.json if present). */
export async function loadConfig(
  flags: Record<string, unknown>,
  env = process.env,
): Promise<CliConfig> {
  const explicit = (flags.config as string | undefined) ?? env.TOLLWAY_CONFIG;
  const fileName = explicit ?? "tollway.config.json";
  let file: Record<string, unknown> | undefined;
  try {
    if ((await stat(fileName)).size > MAX_CONFIG_BYTES)
      throw new CliError("BAD_CONFIG", `${fileName} is larger than ${MAX_CONFIG_BYTES} bytes`);
    const parsed: unknown = JSON.parse(await readFile(fileName, "utf8"));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new CliError("BAD_CONFIG", `${fileName} must hold a JSON object`);
    }
    file = parsed as Record<string, unknown>;
  } catch (err) {
    if (err instanceof CliError) throw err;
    const missing = (err as { code?: string }).code === "ENOENT";
    if (!missing || explicit) {
      throw new CliError(
        "BAD_CONFIG",
        missing
          ? `no config file ${fileName}`
          : err instanceof SyntaxError
            ? `${fileName} is not valid JSON`
            : `cannot read the config file ${fileName} (${(err as { code?: string }).code ?? "error"})`,
      );
    }
  }
  const sources: ConfigSources = { flags, env, file, fileName };
  const resolved = resolveConfig(sources);
  if (!resolved.ok)
    throw new CliError(resolved.code, resolved.reason, { details: resolved.details });
  return resolved.value;
}

/** Connects to the configured chain and deployment with the configured account. */
export async function openChainContext(config: CliConfig): Promise<ChainContext> {
  const provider = providerFor(config.rpc);
  try {
    await withRetry(() => provider.getNetwork(), {
      attempts: 2,
      baseDelayMs: 200,
      maxDelayMs: 200,
    }).catch((cause) => {
      // The client's own errors already name the RPC and say what failed.
      if (cause instanceof ChainError) throw cause;
      throw new ChainError("RPC_UNREACHABLE", shortMessageOf(cause), { cause });
    });
    const signer = await loadSigner(config, provider);
    let channels = config.channels;
    let deployment: Deployment | undefined;
    if (!channels) {
      deployment = await loadDeployment(config.dataDir, provider).catch(() => undefined);
      if (!deployment) {
        // Reaching the chain first gives the more useful error when the RPC is down.
        await connectPaymentChannels({
          signer,
          deployment: { channels: "0x0000000000000000000000000000000000000000" },
          expectedChainId: config.chainId,
          retry: { attempts: 2, baseDelayMs: 200, maxDelayMs: 200 },
        }).catch((err) => {
          if ((err as { code?: string }).code === "NO_CONTRACT") return;
          throw err;
        });
        throw new CliError(
          "NO_DEPLOYMENT",
          `no PaymentChannels address for this chain: pass --channels, or run \`tollway chain\` (it saves one under ${config.dataDir})`,
        );
      }
      channels = deployment.channels;
    }
    const fromBlock = deployment?.deployedAtBlock ?? 0;
    const account = await connectPaymentChannels({
      signer,
      deployment: { channels, deployedAtBlock: fromBlock },
      expectedChainId: config.chainId,
      retry: { attempts: 3, baseDelayMs: 200, maxDelayMs: 1_000 },
    });
    return {
      config,
      provider,
      account,
      me: (await signer.getAddress()) as Address,
      fromBlock,
      close: () => provider.destroy(),
    };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}
