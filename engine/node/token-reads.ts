/**
 * What a node or command reads of the channel token beyond what the chain client reads (balance
 * and decimals): its symbol, and the allowance an account gave the channel contract. Standard
 * ERC-20 calls, so two ABI lines do instead of the Token artifact.
 */
import { Contract } from "ethers";
import type { Address, ChainClient } from "../../channels/index.ts";

const ERC20_READS = [
  "function symbol() view returns (string)",
  "function allowance(address owner, address spender) view returns (uint256)",
];

function token(chain: ChainClient): Contract {
  return new Contract(chain.tokenAddress, ERC20_READS, chain.signer);
}

/** The token's symbol as the contract reports it (unchecked: it is any string). */
export async function tokenSymbol(chain: ChainClient): Promise<string> {
  return (await token(chain).getFunction("symbol")()) as string;
}

/** What `owner` allowed the channel contract to draw (`open --no-permit`, `deposit`). */
export async function tokenAllowance(chain: ChainClient, owner: Address): Promise<bigint> {
  return (await token(chain).getFunction("allowance")(owner, chain.channelsAddress)) as bigint;
}
