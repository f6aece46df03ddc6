/**
 * CLI configuration: flags, then environment, then a JSON config file, in that order. The
 * resolution itself is pure and returns a typed rejection for any bad value.
 */
import { isAddress } from "ethers";
import type { Address } from "../../channels/types.ts";

/** Where settings may come from. */
export interface ConfigSources {
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The parsed config file, if one was found. */
  readonly file?: Readonly<Record<string, unknown>>;
  readonly fileName?: string;
}

/** Settings every chain-touching command shares. */
export interface CliConfig {
  readonly rpc: string;
  readonly channels?: Address;
  readonly chainId?: bigint;
  readonly dataDir: string;
  readonly keystore?: string;
  readonly devAccount?: number;
  /** A private key, from the environment only (never a flag or a file). */
  readonly key?: string;
  readonly verbose: boolean;
  readonly json: boolean;
}

const FILE_KEYS = ["rpc", "channels", "chainId", "dataDir", "keystore", "devAccount"] as const;
const ENV = {
  rpc: "TOLLWAY_RPC",
  channels: "TOLLWAY_CHANNELS",
  chainId: "TOLLWAY_CHAIN_ID",
  dataDir: "TOLLWAY_DATA_DIR",
  keystore: "TOLLWAY_KEYSTORE",
  devAccount: "TOLLWAY_DEV_ACCOUNT",
} as const;

/** Where `tollway chain` serves by default, and so where other commands look by default. */
export const DEFAULT_RPC = "http://127.0.0.1:8545";

/** Resolves the configuration, or says which setting is bad and where it came from. */
export function resolveConfig(
  src: ConfigSources,
): { ok: true; value: CliConfig } | { ok: false; reason: string } {
  if (src.file) {
    const unknown = Object.keys(src.file).filter(
      (k) => !(FILE_KEYS as readonly string[]).includes(k),
    );
    if (unknown.length > 0) {
      return {
        ok: false,
        reason: `unknown setting ${unknown.map((k) => `"${k}"`).join(", ")} in ${src.fileName}; known: ${FILE_KEYS.join(", ")}`,
      };
    }
  }
  const pick = (name: keyof typeof ENV): { value: unknown; from: string } | undefined => {
    if (src.flags[name] !== undefined) return { value: src.flags[name], from: `--${kebab(name)}` };
    const env = src.env[ENV[name]];
    if (env !== undefined && env !== "") return { value: env, from: ENV[name] };
    if (src.file?.[name] !== undefined)
      return { value: src.file[name], from: `${name} in ${src.fileName}` };
    return undefined;
  };

  const rpc = pick("rpc");
  if (rpc && (typeof rpc.value !== "string" || !/^(https?|wss?):\/\/[^\s]+$/.test(rpc.value))) {
    return {
      ok: false,
      reason: `${rpc.from} must be an http(s):// or ws(s):// URL, got ${JSON.stringify(rpc.value)}`,
    };
  }
  const channels = pick("channels");
  if (channels && (typeof channels.value !== "string" || !isAddress(channels.value))) {
    return {
      ok: false,
      reason: `${channels.from} must be a contract address (0x + 40 hex digits), got ${JSON.stringify(channels.value)}`,
    };
  }
  const chainId = pick("chainId");
  let chainIdValue: bigint | undefined;
  if (chainId) {
    if (!/^[1-9][0-9]*$/.test(String(chainId.value))) {
      return {
        ok: false,
        reason: `${chainId.from} must be a positive integer, got ${JSON.stringify(chainId.value)}`,
      };
    }
    chainIdValue = BigInt(String(chainId.value));
  }
  const dev = pick("devAccount");
  let devAccount: number | undefined;
  if (dev) {
    const n = Number(dev.value);
    if (!Number.isInteger(n) || n < 0 || n > 19) {
      return {
        ok: false,
        reason: `${dev.from} must be an account index from 0 to 19, got ${JSON.stringify(dev.value)}`,
      };
    }
    devAccount = n;
  }
  const keystore = pick("keystore");
  const dataDir = pick("dataDir");
  return {
    ok: true,
    value: {
      rpc: (rpc?.value as string | undefined) ?? DEFAULT_RPC,
      channels: channels?.value as Address | undefined,
      chainId: chainIdValue,
      dataDir: (dataDir?.value as string | undefined) ?? ".tollway",
      keystore: keystore?.value as string | undefined,
      devAccount,
      key: src.env.TOLLWAY_KEY || undefined,
      verbose: src.flags.verbose === true,
      json: src.flags.json === true,
    },
  };
}

function kebab(s: string) {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
