/** The token as the CLI speaks of it: its unit, and balance checks worded in tokens. */
import type { Address } from "../../channels/index.ts";
import type { PaymentChannelsAccount } from "../node/payment-channels.ts";
import { CliError } from "./errors.ts";
import { formatTokens, type TokenUnit } from "./flags.ts";

/** The token's decimals and symbol, read from the chain. */
export async function tokenUnit(account: PaymentChannelsAccount): Promise<TokenUnit> {
  const { decimals, symbol } = await account.token();
  return { decimals, symbol: /^[A-Za-z0-9]{1,11}$/.test(symbol) ? symbol : "tokens" };
}

/**
 * Refuses, in tokens, a deposit the account cannot make: its balance, and when the deposit is
 * drawn through an allowance (`open --no-permit`) that allowance, must cover `amount`.
 * @throws CliError INSUFFICIENT_BALANCE, INSUFFICIENT_ALLOWANCE
 */
export async function requireFunds(
  account: PaymentChannelsAccount,
  me: Address,
  amount: bigint,
  unit: TokenUnit,
  opts: { readonly viaAllowance: boolean },
): Promise<void> {
  const balance = await account.settlement.balanceOf(me);
  if (balance < amount) {
    throw new CliError(
      "INSUFFICIENT_BALANCE",
      `balance ${formatTokens(balance, unit)} of ${me} is short of ${formatTokens(amount, unit)}; fund the account with tokens first`,
      { details: { account: me, balance, amount } },
    );
  }
  if (!opts.viaAllowance) return;
  const allowance = await account.allowance(me);
  if (allowance < amount) {
    throw new CliError(
      "INSUFFICIENT_ALLOWANCE",
      `allowance ${formatTokens(allowance, unit)} for the channel contract is short of ${formatTokens(amount, unit)}; approve it first, or leave out --no-permit`,
      { details: { account: me, allowance, amount } },
    );
  }
}
