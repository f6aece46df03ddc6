/** The account a CLI command signs with: a key from the environment, a keystore, or a dev account. */
import { readFile } from "node:fs/promises";
import { type HDNodeWallet, type Provider, Wallet } from "ethers";
import { devWallet } from "../chain/dev-accounts.ts";
import type { CliConfig } from "./config.ts";
import { CliError } from "./errors.ts";

/**
 * Loads the signing account and connects it to `provider`.
 * @throws CliError NO_KEY, BAD_KEYSTORE, BAD_CONFIG (a dev account off the embedded chain)
 */
export async function loadSigner(
  config: CliConfig,
  provider: Provider,
): Promise<Wallet | HDNodeWallet> {
  if (config.key) {
    try {
      return new Wallet(config.key, provider);
    } catch {
      // The key itself must never be echoed.
      throw new CliError(
        "NO_KEY",
        "TOLLWAY_KEY is not a valid private key (32 bytes as 0x-prefixed hex)",
      );
    }
  }
  if (config.keystore) {
    const password = process.env.TOLLWAY_KEYSTORE_PASSWORD;
    if (password === undefined) {
      throw new CliError(
        "BAD_KEYSTORE",
        "the keystore needs its password in TOLLWAY_KEYSTORE_PASSWORD",
      );
    }
    let json: string;
    try {
      json = await readFile(config.keystore, "utf8");
    } catch {
      throw new CliError("BAD_KEYSTORE", `cannot read the keystore ${config.keystore}`);
    }
    try {
      return (await Wallet.fromEncryptedJson(json, password)).connect(provider);
    } catch {
      throw new CliError(
        "BAD_KEYSTORE",
        `cannot decrypt ${config.keystore}: wrong password or not an encrypted JSON keystore`,
      );
    }
  }
  if (config.devAccount !== undefined) {
    const { chainId } = await provider.getNetwork();
    if (chainId !== 31337n) {
      throw new CliError(
        "BAD_CONFIG",
        `--dev-account works only on the embedded chain (31337); this RPC serves chain ${chainId}`,
      );
    }
    return devWallet(config.devAccount).connect(provider);
  }
  throw new CliError(
    "NO_KEY",
    "no account: set TOLLWAY_KEY, pass --keystore FILE (password in TOLLWAY_KEYSTORE_PASSWORD), or --dev-account N on the embedded chain",
  );
}
