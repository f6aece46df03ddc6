/**
 * Where the concrete settlement backend is built, and nowhere else in engine/: PaymentChannels
 * through its chain client, for one account, from a signer on an RPC and a deployment. Everything
 * else in the engine takes the `SettlementBackend` this returns. Beside it are the token
 * operations only this backend has, which the CLI words its amounts and checks with: the token's
 * unit, the allowance an open without a permit draws, and opens with a chosen salt or without a
 * permit.
 */
import { Contract, type Signer } from "ethers";
import {
  type Address,
  type ChainClient,
  type ChannelParticipants,
  connectChain,
  type OpenedChannelTx,
  paymentChannelsSettlement,
  type RetryPolicy,
  type SettlementBackend,
} from "../../channels/index.ts";

/** Options of {@link connectPaymentChannels}. */
export interface PaymentChannelsAccountOptions {
  /** The account that signs, connected to the chain's provider (a void signer only reads). */
  readonly signer: Signer;
  /** The deployment: its PaymentChannels contract, and the block it was deployed at (default 0). */
  readonly deployment: { readonly channels: Address; readonly deployedAtBlock?: number };
  /** Refuse to work on any other chain. */
  readonly expectedChainId?: bigint;
  /** Retries of each RPC request. */
  readonly retry?: RetryPolicy;
}

/** A token's decimals and symbol, as its contract reports them. */
export interface TokenInfo {
  readonly decimals: number;
  /** Unchecked: any string the contract returns. */
  readonly symbol: string;
}

/** One account on a PaymentChannels deployment; see {@link connectPaymentChannels}. */
export interface PaymentChannelsAccount {
  /** The chain through the settlement interface, acting for this account. */
  readonly settlement: SettlementBackend;
  readonly signer: Signer;
  /** The token's decimals and symbol. */
  token(): Promise<TokenInfo>;
  /** What `owner` allowed the channel contract to draw (an open without a permit draws it). */
  allowance(owner: Address): Promise<bigint>;
  /**
   * Opens a channel as `send(ChainSendOpen)` does, with PaymentChannels' own choices: the salt
   * the channel id derives from (default: random), and whether a permit funds it (default: when
   * the allowance is short).
   * @throws SettlementError INSUFFICIENT_FUNDS, INVALID_ARGUMENT (e.g. the settle window)
   */
  open(args: {
    readonly partner: Address;
    readonly amount: bigint;
    readonly settleWindow: number;
    readonly salt?: bigint;
    readonly permit?: boolean;
  }): Promise<OpenedChannelTx & { readonly participants: ChannelParticipants }>;
}

const ERC20_READS = [
  "function symbol() view returns (string)",
  "function allowance(address owner, address spender) view returns (uint256)",
];

/**
 * Connects `signer`'s account to a PaymentChannels deployment: checks the chain id and that the
 * contract is there.
 * @throws ChainError RPC_UNREACHABLE, RPC_TIMEOUT, RPC_BAD_RESPONSE, WRONG_CHAIN, NO_CONTRACT
 * @example
 * const account = await connectPaymentChannels({ signer: wallet.connect(providerFor(url)), deployment });
 * const provider = await createProvider({ wallet, settlement: account.settlement, dataDir, pricing });
 */
export async function connectPaymentChannels(
  opts: PaymentChannelsAccountOptions,
): Promise<PaymentChannelsAccount> {
  const chain: ChainClient = await connectChain({
    signer: opts.signer,
    channels: opts.deployment.channels,
    ...(opts.expectedChainId !== undefined ? { expectedChainId: opts.expectedChainId } : {}),
    ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
  });
  const backend = paymentChannelsSettlement(chain, {
    fromBlock: opts.deployment.deployedAtBlock ?? 0,
  });
  // Standard ERC-20 calls: two ABI lines do instead of the Token artifact.
  const token = new Contract(chain.tokenAddress, ERC20_READS, chain.signer);
  return {
    settlement: backend,
    signer: chain.signer,
    async token() {
      const [decimals, symbol] = await Promise.all([
        chain.tokenDecimals(),
        token.getFunction("symbol")() as Promise<string>,
      ]);
      return { decimals, symbol };
    },
    async allowance(owner) {
      return (await token.getFunction("allowance")(owner, chain.channelsAddress)) as bigint;
    },
    open: (args) => backend.open(args),
  };
}
