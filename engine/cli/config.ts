/**
 * CLI configuration: flags, then environment, then a JSON config file, in that order. The
 * resolution itself is pure and returns a typed rejection for any bad value.
 */
import { isAddress } from "ethers";
import type { Address } from "../../channels/index.ts";
import { type Result, reject } from "../../channels/index.ts";

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

/**
 * Resolves the configuration, or refuses with BAD_CONFIG, saying which setting is bad and where it
 * came from (`details.from`: `--rpc`, `TOLLWAY_RPC`, `rpc in tollway.config.json`).
 */
export function resolveConfig(src: ConfigSources): Result<CliConfig, "BAD_CONFIG"> {
  if (src.file) {
    const unknown = Object.keys(src.file).filter(
      (k) => !(FILE_KEYS as readonly string[]).includes(k),
    );
    if (unknown.length > 0) {
      const named = unknown.slice(0, 3).map(shown).join(", ");
      return reject(
        "BAD_CONFIG",
        `unknown setting${unknown.length > 1 ? "s" : ""} ${named}${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ""} in ${src.fileName}; known: ${FILE_KEYS.join(", ")}`,
        { from: src.fileName, unknown: unknown.slice(0, 3) },
      );
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
    return reject(
      "BAD_CONFIG",
      `${rpc.from} must be an http(s):// or ws(s):// URL, got ${shown(rpc.value)}`,
      { from: rpc.from },
    );
  }
  const channels = pick("channels");
  if (channels && (typeof channels.value !== "string" || !isAddress(channels.value))) {
    return reject(
      "BAD_CONFIG",
      `${channels.from} must be a contract address (0x + 40 hex digits), got ${shown(channels.value)}`,
      { from: channels.from },
    );
  }
  const chainId = pick("chainId");
  let chainIdValue: bigint | undefined;
  if (chainId) {
    const text = wholeNumberText(chainId.value);
    if (text === undefined || !/^[1-9][0-9]{0,77}$/.test(text)) {
      return reject(
        "BAD_CONFIG",
        `${chainId.from} must be a positive integer, got ${shown(chainId.value)}`,
        { from: chainId.from },
      );
    }
    chainIdValue = BigInt(text);
  }
  const dev = pick("devAccount");
  let devAccount: number | undefined;
  if (dev) {
    const text = wholeNumberText(dev.value);
    const n = Number(text);
    if (text === undefined || !/^[0-9]{1,2}$/.test(text) || n > 19) {
      return reject(
        "BAD_CONFIG",
        `${dev.from} must be an account index from 0 to 19, got ${shown(dev.value)}`,
        { from: dev.from },
      );
    }
    devAccount = n;
  }
  const keystore = pick("keystore");
  const dataDir = pick("dataDir");
  for (const p of [keystore, dataDir]) {
    if (p && !isPath(p.value))
      return reject("BAD_CONFIG", `${p.from} must be a file path, got ${shown(p.value)}`, {
        from: p.from,
      });
  }
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

/** Digits of a whole number given as a JSON number or a string of digits; else undefined. */
function wholeNumberText(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  return typeof v === "string" && /^[0-9]+$/.test(v) ? v : undefined;
}

/** A non-empty path of sane length with no NUL byte (the OS refuses those anyway, less clearly). */
function isPath(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 4096 && !v.includes("\0");
}

/** A value as a message shows it: JSON, cut short. */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function kebab(s: string) {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
