/** Wallets: channel capacity and the part reserved by accepted deals. */
export { available, emptyWallet, release, reserve, setBalance, type Wallet } from "./wallet.ts";
