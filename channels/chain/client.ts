/**
 * The on-chain client for PaymentChannels (ethers v6): open (with permit), top up, close
 * cooperatively or unilaterally, update proofs, settle, and read channels, against any JSON-RPC
 * URL or EIP-1193 provider.
 */
import { randomBytes } from "node:crypto";
import {
  Contract,
  type ContractTransactionResponse,
  hexlify,
  isError,
  JsonRpcApiProvider,
  type Log,
  type Provider,
  Signature,
  type Signer,
} from "ethers";
import type { SignedBalanceProof } from "../signed.ts";
import {
  type Address,
  asChannelId,
  type ChannelDomain,
  type ChannelId,
  type CommittedState,
} from "../types.ts";
import { loadArtifact } from "./artifacts.ts";
import { ChainError, isChainError } from "./errors.ts";
import { NonceLane } from "./nonce-lane.ts";
import {
  DEFAULT_INCLUSION_TIMEOUT_MS,
  DEFAULT_RECEIPT_POLL_MS,
  waitForReceipt,
} from "./receipt.ts";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { rpcCall } from "./rpc-call.ts";
import type {
  ChainTime,
  ChannelParticipants,
  OnChainChannel,
  OpenedChannel,
  SettleWindowBounds,
  TxOutcome,
} from "./types.ts";

export { providerFor } from "./rpc-provider.ts";

/** The ERC-2612 `Permit` struct, in ethers' `types` format. */
export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** Options of {@link connectChain}. */
export interface ChainClientOptions {
  /** The account that signs transactions, connected to a provider. */
  readonly signer: Signer;
  /** The PaymentChannels contract. */
  readonly channels: Address;
  /** Refuse to work on any other chain. */
  readonly expectedChainId?: bigint;
  /** Blocks to wait after inclusion (default 1: the including block). */
  readonly confirmations?: number;
  /** Retries of each RPC request (each bounded by the provider's timeout, see `providerFor`). */
  readonly retry?: RetryPolicy;
  /** Time between two looks for a sent transaction's receipt (default 500 ms). */
  readonly receiptPollIntervalMs?: number;
  /** How long a sent transaction may take to be included (default 5 min; then TX_NOT_MINED). */
  readonly inclusionTimeoutMs?: number;
}

/**
 * Connects to a deployment: checks the chain id and that a PaymentChannels contract is there.
 * @throws ChainError RPC_UNREACHABLE, RPC_TIMEOUT, RPC_BAD_RESPONSE, WRONG_CHAIN, NO_CONTRACT,
 *   ARTIFACTS_MISSING
 * @example
 * const chain = await connectChain({ signer: wallet.connect(providerFor(url)), channels });
 * const { channelId } = await chain.open({ partner, amount: 10n ** 18n, settleWindow: 3600 });
 */
export async function connectChain(opts: ChainClientOptions): Promise<ChainClient> {
  const provider = opts.signer.provider;
  if (!provider) throw new TypeError("the signer has no provider");
  const retry = opts.retry ?? DEFAULT_RETRY;
  const read = <T>(what: string, fn: () => Promise<T>) => rpcCall(what, fn, retry);
  const network = await read("read the chain id", () => provider.getNetwork());
  if (opts.expectedChainId !== undefined && network.chainId !== opts.expectedChainId) {
    throw new ChainError(
      "WRONG_CHAIN",
      `the RPC serves chain ${network.chainId}, expected ${opts.expectedChainId}`,
      { details: { chainId: network.chainId, expectedChainId: opts.expectedChainId } },
    );
  }
  const code = await read("read the contract code", () => provider.getCode(opts.channels));
  if (code === "0x") {
    throw new ChainError(
      "NO_CONTRACT",
      `no contract at ${opts.channels} on chain ${network.chainId}`,
      { details: { address: opts.channels } },
    );
  }
  const channels = new Contract(opts.channels, loadArtifact("PaymentChannels").abi, opts.signer);
  let tokenAddress: string;
  try {
    tokenAddress = await read("read the channel token", () => channels.getFunction("token")());
  } catch (cause) {
    // A revert, or an answer that does not decode as an address, is another contract.
    const notOurs =
      isChainError(cause, "CONTRACT_REVERT") ||
      (isChainError(cause, "RPC_BAD_RESPONSE") && isError(cause.cause, "BAD_DATA"));
    if (!notOurs) throw cause;
    throw new ChainError("NO_CONTRACT", `the contract at ${opts.channels} is not PaymentChannels`, {
      details: { address: opts.channels },
      cause,
    });
  }
  const token = new Contract(tokenAddress, loadArtifact("Token").abi, opts.signer);
  return new ChainClient(opts, network.chainId, channels, token, retry);
}

/** A connected client; see {@link connectChain}. */
export class ChainClient {
  readonly chainId: bigint;
  readonly channelsAddress: Address;
  readonly tokenAddress: Address;
  readonly signer: Signer;
  readonly #channels: Contract;
  readonly #token: Contract;
  readonly #lane: NonceLane;
  #permitted: Promise<unknown> = Promise.resolve();
  readonly #confirmations: number;
  readonly #retry: RetryPolicy;
  readonly #receiptPollMs: number;
  readonly #inclusionTimeoutMs: number;
  #me: Address | undefined;

  constructor(
    opts: ChainClientOptions,
    chainId: bigint,
    channels: Contract,
    token: Contract,
    retry: RetryPolicy,
  ) {
    this.chainId = chainId;
    this.channelsAddress = opts.channels;
    this.tokenAddress = token.target as Address;
    this.signer = opts.signer;
    this.#channels = channels;
    this.#token = token;
    this.#lane = new NonceLane(opts.signer);
    this.#confirmations = opts.confirmations ?? 1;
    this.#retry = retry;
    this.#receiptPollMs = opts.receiptPollIntervalMs ?? DEFAULT_RECEIPT_POLL_MS;
    this.#inclusionTimeoutMs = opts.inclusionTimeoutMs ?? DEFAULT_INCLUSION_TIMEOUT_MS;
  }

  /** The EIP-712 domain balance proofs on this deployment are signed for. */
  get domain(): ChannelDomain {
    return { chainId: this.chainId, verifyingContract: this.channelsAddress };
  }

  /** The address that signs this client's transactions. */
  async address(): Promise<Address> {
    this.#me ??= (await this.signer.getAddress()) as Address;
    return this.#me;
  }

  /** The token's decimals, for showing amounts in whole tokens. */
  async tokenDecimals(): Promise<number> {
    return Number(
      await this.#read("read the token decimals", () => this.#token.getFunction("decimals")()),
    );
  }

  /** The token balance of `owner` (default: this client's account). */
  async tokenBalance(owner?: Address): Promise<bigint> {
    const who = owner ?? (await this.address());
    return this.#read("read a token balance", () => this.#token.getFunction("balanceOf")(who));
  }

  /**
   * Opens a channel to `partner` with a first deposit. With `permit` (default when the allowance
   * is short) approval and open are one transaction.
   * @throws ChainError INSUFFICIENT_TOKEN_BALANCE, CONTRACT_REVERT (e.g. SettleWindowOutOfBounds)
   */
  async open(args: {
    partner: Address;
    amount: bigint;
    settleWindow: number;
    salt?: bigint;
    permit?: boolean;
  }): Promise<OpenedChannel> {
    const me = await this.address();
    const salt = args.salt ?? BigInt(hexlify(randomBytes(8)));
    await this.#requireBalance(me, args.amount);
    const allowance: bigint = await this.#read("read the allowance", () =>
      this.#token.getFunction("allowance")(me, this.channelsAddress),
    );
    const usePermit = args.permit ?? allowance < args.amount;
    let outcome: TxOutcome & { logs: readonly { topics: readonly string[]; data: string }[] };
    if (usePermit && args.amount > 0n) {
      // A permit signs the token's next permit nonce: opens with permits run one at a time,
      // each mined before the next reads the nonce, or all but the first would be refused.
      const run = this.#permitted.then(async () => {
        const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
        const sig = await this.#signPermit(me, args.amount, deadline);
        return this.#send("open with permit", (o) =>
          this.#channels.getFunction("openWithPermit")(
            args.partner,
            salt,
            args.amount,
            args.settleWindow,
            deadline,
            sig.v,
            sig.r,
            sig.s,
            o,
          ),
        );
      });
      this.#permitted = run.catch(() => undefined);
      outcome = await run;
    } else {
      if (allowance < args.amount) {
        throw new ChainError(
          "INSUFFICIENT_ALLOWANCE",
          `allowance ${allowance} is below ${args.amount}; approve the channel contract or open with a permit`,
        );
      }
      outcome = await this.#send("open", (o) =>
        this.#channels.getFunction("open")(args.partner, salt, args.amount, args.settleWindow, o),
      );
    }
    const opened = this.#findEvent(outcome.logs, "ChannelOpened");
    const participants: ChannelParticipants = {
      a: opened.args[1] as Address,
      b: opened.args[2] as Address,
      salt: opened.args[3] as bigint,
      openBlock: opened.args[4] as bigint,
    };
    return { ...strip(outcome), channelId: asChannelId(opened.args[0] as string), participants };
  }

  /**
   * Adds `amount` to side B (`forB`) or A. `via: "transferAndCall"` (default) needs no allowance;
   * `"allowance"` uses `deposit` and an existing approval.
   * @throws ChainError INSUFFICIENT_TOKEN_BALANCE, INSUFFICIENT_ALLOWANCE, CONTRACT_REVERT
   */
  async topUp(
    channelId: ChannelId,
    forB: boolean,
    amount: bigint,
    via: "transferAndCall" | "allowance" = "transferAndCall",
  ): Promise<TxOutcome> {
    const me = await this.address();
    await this.#requireBalance(me, amount);
    if (via === "allowance") {
      const allowance: bigint = await this.#read("read the allowance", () =>
        this.#token.getFunction("allowance")(me, this.channelsAddress),
      );
      if (allowance < amount) {
        throw new ChainError(
          "INSUFFICIENT_ALLOWANCE",
          `allowance ${allowance} is below ${amount}; approve the channel contract first`,
        );
      }
      return strip(
        await this.#send("top up", (o) =>
          this.#channels.getFunction("deposit")(channelId, forB, amount, o),
        ),
      );
    }
    const data = `${channelId}${forB ? "01" : "00"}`;
    return strip(
      await this.#send("top up", (o) =>
        this.#token.getFunction("transferAndCall(address,uint256,bytes)")(
          this.channelsAddress,
          amount,
          data,
          o,
        ),
      ),
    );
  }

  /** Sets the token allowance of the channel contract. */
  async approve(amount: bigint): Promise<TxOutcome> {
    return strip(
      await this.#send("approve", (o) =>
        this.#token.getFunction("approve")(this.channelsAddress, amount, o),
      ),
    );
  }

  /** Pays out a settlement both participants signed. */
  async cooperativeClose(
    p: ChannelParticipants,
    payoutA: bigint,
    payoutB: bigint,
    sigA: Uint8Array,
    sigB: Uint8Array,
  ): Promise<TxOutcome> {
    return strip(
      await this.#send("cooperative close", (o) =>
        this.#channels.getFunction("cooperativeClose")(
          participantsArg(p),
          payoutA,
          payoutB,
          sigA,
          sigB,
          o,
        ),
      ),
    );
  }

  /** Closes unilaterally with the partner's latest proof (none: nothing received). */
  async close(
    p: ChannelParticipants,
    partnerProof?: SignedBalanceProof,
  ): Promise<TxOutcome & { finalizesAt: number }> {
    const out = await this.#send("close", (o) =>
      this.#channels.getFunction("close")(
        participantsArg(p),
        partnerProof?.proof.nonce ?? 0n,
        partnerProof?.proof.transferred ?? 0n,
        partnerProof?.signature ?? "0x",
        o,
      ),
    );
    const closed = this.#findEvent(out.logs, "ChannelClosed");
    return { ...strip(out), finalizesAt: Number(closed.args[4]) };
  }

  /** Records a better proof for side B (`ofB`) or A during the settle window. */
  async updateProof(
    channelId: ChannelId,
    closing: CommittedState,
    ofB: boolean,
    signed: SignedBalanceProof,
  ): Promise<TxOutcome> {
    return strip(
      await this.#send("update proof", (o) =>
        this.#channels.getFunction("updateProof")(
          channelId,
          closing,
          ofB,
          signed.proof.nonce,
          signed.proof.transferred,
          signed.signature,
          o,
        ),
      ),
    );
  }

  /** Pays the channel out after its window. */
  async settle(channelId: ChannelId, closing: CommittedState): Promise<TxOutcome> {
    return strip(
      await this.#send("settle", (o) =>
        this.#channels.getFunction("settle")(channelId, closing, o),
      ),
    );
  }

  /** Reads a channel's status, deposits or window end. */
  async readChannel(channelId: ChannelId): Promise<OnChainChannel> {
    const [status, windowOrEnd, depositA, depositB] = (await this.#read("read a channel", () =>
      this.#channels.getFunction("channelInfo")(channelId),
    )) as [bigint, bigint, bigint, bigint];
    if (status === 1n)
      return { status: "open", settleWindow: Number(windowOrEnd), depositA, depositB };
    if (status === 2n) return { status: "closing", finalizesAt: Number(windowOrEnd) };
    return { status: "none" };
  }

  /** The settle windows this deployment accepts at open, in seconds (set at its deployment). */
  async settleWindowBounds(): Promise<SettleWindowBounds> {
    const [min, max] = await Promise.all([
      this.#read("read the shortest settle window", () =>
        this.#channels.getFunction("minSettleWindow")(),
      ),
      this.#read("read the longest settle window", () =>
        this.#channels.getFunction("maxSettleWindow")(),
      ),
    ]);
    return { minSeconds: Number(min), maxSeconds: Number(max) };
  }

  /** The number of the chain's latest block. */
  async blockNumber(): Promise<number> {
    return this.#read("read the block number", () => this.#provider.getBlockNumber());
  }

  /**
   * The latest block, and the time the next block will carry: the pending block's timestamp
   * where the node serves one (it counts `evm_increaseTime` on a development chain), else the
   * later of the latest block's and this machine's clock. A chain that mines only on
   * transactions keeps its latest timestamp while time goes on; a settle window ends by the
   * clock of the block that would settle it, which is the next one.
   */
  async chainTime(): Promise<ChainTime> {
    const provider = this.#provider;
    const [latest, pending] = await Promise.all([
      this.#read("read the latest block", async () => {
        const block = await provider.getBlock("latest");
        if (!block) throw new ChainError("RPC_BAD_RESPONSE", "the node has no latest block");
        return block;
      }),
      // ethers' Block cannot hold a pending block (it has no number): ask for the raw one.
      provider instanceof JsonRpcApiProvider
        ? this.#read(
            "read the pending block",
            () => provider.send("eth_getBlockByNumber", ["pending", false]),
            // A node without pending blocks (some L2s) refuses: the clock stands in for it.
          ).then(pendingTimestamp, () => undefined)
        : Promise.resolve(undefined),
    ]);
    const wallClock = Math.floor(Date.now() / 1000);
    return {
      latestBlock: latest.number,
      latestTimestamp: latest.timestamp,
      nextTimestamp: Math.max(latest.timestamp, pending ?? wallClock),
    };
  }

  /**
   * The channel contract's logs in blocks `fromBlock..toBlock`, optionally only those matching
   * `topics` (e.g. `[null, channelId]`: one channel's, every event indexes its id first).
   */
  async channelLogs(
    fromBlock: number,
    toBlock: number,
    topics?: readonly (string | null)[],
  ): Promise<readonly Log[]> {
    return this.#read("read the channel events", () =>
      this.#provider.getLogs({
        address: this.channelsAddress,
        fromBlock,
        toBlock,
        ...(topics ? { topics: [...topics] } : {}),
      }),
    );
  }

  /** The channel contract, for event queries. */
  get contract(): Contract {
    return this.#channels;
  }

  get #provider(): Provider {
    const provider = this.signer.provider;
    if (!provider) throw new TypeError("the signer has no provider");
    return provider;
  }

  async #requireBalance(owner: Address, amount: bigint) {
    const balance = await this.tokenBalance(owner);
    if (balance < amount) {
      throw new ChainError(
        "INSUFFICIENT_TOKEN_BALANCE",
        `${owner} holds ${balance} token units, needs ${amount}`,
      );
    }
  }

  async #signPermit(owner: Address, value: bigint, deadline: bigint) {
    const [name, nonce] = await Promise.all([
      this.#read("read the token name", () => this.#token.getFunction("name")()),
      this.#read("read the permit nonce", () => this.#token.getFunction("nonces")(owner)),
    ]);
    return Signature.from(
      await this.signer.signTypedData(
        { name, version: "1", chainId: this.chainId, verifyingContract: this.tokenAddress },
        PERMIT_TYPES,
        { owner, spender: this.channelsAddress, value, nonce, deadline },
      ),
    );
  }

  #read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return rpcCall(what, fn, this.#retry);
  }

  /** Broadcasts in nonce order, then waits for inclusion outside the lane. */
  async #send(
    what: string,
    call: (overrides: { nonce: number }) => Promise<ContractTransactionResponse>,
  ): Promise<TxOutcome & { logs: readonly { topics: readonly string[]; data: string }[] }> {
    const tx = await this.#lane.run((nonce) => rpcCall(what, () => call({ nonce }), this.#retry));
    const receipt = await waitForReceipt(this.#provider, tx.hash, {
      what,
      confirmations: this.#confirmations,
      pollIntervalMs: this.#receiptPollMs,
      timeoutMs: this.#inclusionTimeoutMs,
      retry: this.#retry,
    });
    if (receipt.status !== 1)
      throw new ChainError("TX_REVERTED", `${what} was mined but reverted (${tx.hash})`, {
        details: { hash: tx.hash },
      });
    return {
      hash: receipt.hash,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      logs: receipt.logs,
    };
  }

  #findEvent(logs: readonly { topics: readonly string[]; data: string }[], name: string) {
    const iface = this.#channels.interface;
    for (const log of logs) {
      const parsed = (() => {
        try {
          return iface.parseLog({ topics: [...log.topics], data: log.data });
        } catch {
          return null;
        }
      })();
      if (parsed?.name === name) return parsed;
    }
    throw new ChainError("EVENT_MISSING", `the transaction emitted no ${name} event`);
  }
}

function strip(o: TxOutcome): TxOutcome {
  return { hash: o.hash, blockNumber: o.blockNumber, gasUsed: o.gasUsed };
}

function participantsArg(p: ChannelParticipants) {
  return { a: p.a, b: p.b, salt: p.salt, openBlock: p.openBlock };
}

/** The timestamp of a raw `eth_getBlockByNumber("pending")` answer, if it has one. */
function pendingTimestamp(raw: unknown): number | undefined {
  const timestamp = (raw as { timestamp?: unknown } | null)?.timestamp;
  if (typeof timestamp !== "string" || !/^0x[0-9a-f]{1,12}$/i.test(timestamp)) return undefined;
  return Number(timestamp);
}
