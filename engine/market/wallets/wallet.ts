/**
 * Wallets: what a requester's channels hold (`balance`) and the part of it promised to deals
 * that may still cost money (`reserved`). Pure functions over readonly values.
 *
 * Invariant: `reserved <= balance`. A reservation that would break it is refused; a balance
 * that drops under the reservations (a channel closed) is reported so the shell can fail deals.
 */
import { reject } from "../../../channels/index.ts";
import type { Address, MarketResult } from "../types.ts";

/** One wallet's funds in token base units. */
export interface Wallet {
  readonly address: Address;
  /** Capacity of the wallet's open channels, as last reported. */
  readonly balance: bigint;
  /** Maximum cost of the deals it has accepted that are not over yet. */
  readonly reserved: bigint;
}

/** A wallet with nothing in it. */
export function emptyWallet(address: Address): Wallet {
  return { address, balance: 0n, reserved: 0n };
}

/** What is free to reserve. */
export function available(w: Wallet): bigint {
  return w.balance - w.reserved;
}

/**
 * Reserves a deal's maximum cost.
 * @returns the new wallet, or INSUFFICIENT_CAPACITY when the channels cannot cover it.
 */
export function reserve(w: Wallet, amount: bigint): MarketResult<Wallet> {
  if (amount < 0n) return reject("INVALID_QUANTITY", "negative reservation");
  if (w.reserved + amount > w.balance) {
    return reject(
      "INSUFFICIENT_CAPACITY",
      `needs ${amount}, channels hold ${w.balance} of which ${w.reserved} is reserved`,
    );
  }
  return { ok: true, value: { ...w, reserved: w.reserved + amount } };
}

/** Releases a finished deal's reservation; what it spent leaves the balance. */
export function release(w: Wallet, reserved: bigint, spent: bigint): Wallet {
  const r = w.reserved - reserved;
  const b = w.balance - spent;
  return { ...w, reserved: r < 0n ? 0n : r, balance: b < 0n ? 0n : b };
}

/** Records the channels' capacity reported by the chain side. */
export function setBalance(w: Wallet, balance: bigint): Wallet {
  return { ...w, balance: balance < 0n ? 0n : balance };
}
