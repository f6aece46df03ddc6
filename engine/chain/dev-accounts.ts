/** The development accounts of Hardhat's embedded network: well known, funded with ETH, never for real money. */
import { HDNodeWallet } from "ethers";

/** Hardhat's development mnemonic; its first accounts hold ETH on the embedded network. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** Development account `index` (0 deploys; the demo's roles take the next ones). */
export function devWallet(index: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
}
