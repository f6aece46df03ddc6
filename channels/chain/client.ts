/**
 * The on-chain client for PaymentChannels (ethers v6): open (with permit), top up, close
 * cooperatively or unilaterally, update proofs, settle, and read channels, against any JSON-RPC
 * URL or EIP-1193 provider.
 */
import { randomBytes } from "node:crypto";
import {
  BrowserProvider,
  Contract,
  type ContractTransactionResponse,
  type Eip1193Provider,
  hexlify,
  isError,
  JsonRpcProvider,
  type Provider,
  Signature,
  type Signer,
} from "ethers";
import type { SignedBalanceProof } from "../signed.ts";
import { type Address, asChannelId, type ChannelDomain, type ChannelId } from "../types.ts";
import { contractsInterface, loadArtifact } from "./artifacts.ts";
import { ChainError } from "./errors.ts";
import { NonceLane } from "./nonce-lane.ts";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.ts";
import type {
  ChannelParticipants,
  ClosingState,
  OnChainChannel,
  OpenedChannel,
  TxOutcome,
} from "./types.ts";

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
  readonly retry?: RetryPolicy;
}

/**
 * A provider for a JSON-RPC URL or an EIP-1193 object (Hardhat's in-process network, a wallet).
 * @example const provider = providerFor("http://127.0.0.1:8545");
 */
export function providerFor(rpc: string | Eip1193Provider): Provider {
  // ethers caches identical requests for 250 ms; a retry must reach the node, not the cache.
  return typeof rpc === "string"
    ? new JsonRpcProvider(rpc, undefined, {
        staticNetwork: false,
        batchMaxCount: 1,
        cacheTimeout: -1,
      })
    : new BrowserProvider(rpc, undefined, { cacheTimeout: -1 });
}

/**
 * Connects to a deployment: checks the chain id and that a PaymentChannels contract is there.
 * @throws ChainError RPC_UNREACHABLE, WRONG_CHAIN, NO_CONTRACT, ARTIFACTS_MISSING
 * @example
 * const chain = await connectChain({ signer: wallet.connect(providerFor(url)), channels });
 * const { channelId } = await chain.open({ partner, amount: 10n ** 18n, settleWindow: 3600 });
 */
export async function connectChain(opts: ChainClientOptions): Promise<ChainClient> {
  const provider = opts.signer.provider;
  if (!provider) throw new TypeError("the signer has no provider");
  const retry = opts.retry ?? DEFAULT_RETRY;
  const read = <T>(what: string, fn: () => Promise<T>) => rpc(what, fn, retry);
  const network = await read("read the chain id", () => provider.getNetwork());
  if (opts.expectedChainId !== undefined && network.chainId !== opts.expectedChainId) {
    throw new ChainError(
      "WRONG_CHAIN",
      `the RPC serves chain ${network.chainId}, expected ${opts.expectedChainId}`,
    );
  }
  const code = await read("read the contract code", () => provider.getCode(opts.channels));
  if (code === "0x") {
    throw new ChainError(
      "NO_CONTRACT",
      `no contract at ${opts.channels} on chain ${network.chainId}`,
    );
  }
  const channels = new Contract(opts.channels, loadArtifact("PaymentChannels").abi, opts.signer);
  let tokenAddress: string;
  try {
    tokenAddress = await read("read the channel token", () => channels.getFunction("token")());
  } catch (cause) {
    if (cause instanceof ChainError && cause.code !== "CONTRACT_REVERT") throw cause;
    throw new ChainError("NO_CONTRACT", `the contract at ${opts.channels} is not PaymentChannels`, {
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
    closing: ClosingState,
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
  async settle(channelId: ChannelId, closing: ClosingState): Promise<TxOutcome> {
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

  /** The channel contract, for event queries. */
  get contract(): Contract {
    return this.#channels;
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
    return rpc(what, fn, this.#retry);
  }

  /** Broadcasts in nonce order, then waits for inclusion outside the lane. */
  async #send(
    what: string,
    call: (overrides: { nonce: number }) => Promise<ContractTransactionResponse>,
  ): Promise<TxOutcome & { logs: readonly { topics: readonly string[]; data: string }[] }> {
    const tx = await this.#lane.run((nonce) => rpc(what, () => call({ nonce }), this.#retry));
    const receipt = await rpc(
      `wait for ${what}`,
      () => tx.wait(this.#confirmations),
      this.#retry,
    ).catch((err) => {
      throw err instanceof ChainError && err.code === "CONTRACT_REVERT"
        ? new ChainError("TX_REVERTED", `${what} was mined but reverted: ${err.message}`, err)
        : err;
    });
    if (receipt?.status !== 1)
      throw new ChainError("TX_REVERTED", `${what} was mined but reverted (${tx.hash})`);
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

/** Runs an RPC call with retries and turns failures into ChainErrors. */
async function rpc<T>(what: string, fn: () => Promise<T>, retry: RetryPolicy): Promise<T> {
  try {
    return await withRetry(fn, retry);
  } catch (err) {
    throw toChainError(what, err);
  }
}

function toChainError(what: string, err: unknown): ChainError {
  if (err instanceof ChainError) return err;
  const data = revertData(err);
  if (data) {
    const parsed = (() => {
      try {
        return contractsInterface().parseError(data);
      } catch {
        return null;
      }
    })();
    if (parsed) {
      return new ChainError(
        "CONTRACT_REVERT",
        `${what} reverted with ${parsed.name}(${parsed.args.join(", ")})`,
        {
          errorName: parsed.name,
          errorArgs: parsed.args.toArray(),
          cause: err,
        },
      );
    }
  }
  if (isError(err, "CALL_EXCEPTION")) {
    return new ChainError(
      "CONTRACT_REVERT",
      `${what} reverted${err.reason ? `: ${err.reason}` : ""}`,
      { cause: err },
    );
  }
  // Nodes report a short gas balance as JSON-RPC -32000 with no code of its own (geth: "insufficient
  // funds", Hardhat: "doesn't have enough funds"); ethers maps only
  // some of them to INSUFFICIENT_FUNDS, so the node's own words are the one signal left.
  if (
    isError(err, "INSUFFICIENT_FUNDS") ||
    /insufficient funds|n't have enough funds/i.test(nestedMessages(err))
  ) {
    return new ChainError("INSUFFICIENT_GAS_FUNDS", `${what}: the account cannot pay for gas`, {
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return new ChainError("RPC_UNREACHABLE", `${what} failed: ${message}`, { cause: err });
}

function nestedMessages(err: unknown): string {
  const parts: string[] = [];
  let e = err as Record<string, unknown> | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof e.message === "string") parts.push(e.message);
    e = (e.error ?? e.info ?? e.cause) as Record<string, unknown> | undefined;
  }
  return parts.join(" | ");
}

function revertData(err: unknown): string | undefined {
  let e = err as Record<string, unknown> | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof e.data === "string" && e.data.startsWith("0x") && e.data.length >= 10) return e.data;
    e = (e.error ?? e.info ?? e.cause) as Record<string, unknown> | undefined;
  }
  return undefined;
}
