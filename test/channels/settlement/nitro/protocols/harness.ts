/**
 * Two direct fund/defund cores and a model of the adjudicator's holdings (deposit checks
 * `expectedHeld`, conclude pays out and empties the channel), with every message and chain event
 * kept so that a test can deliver any of them, again, late or out of order.
 */

import { createSigner } from "../../../../../channels/crypto/signer.ts";
import { ProofVerifier } from "../../../../../channels/crypto/verifier.ts";
import {
  destinationOf,
  nitroChannelId,
} from "../../../../../channels/settlement/nitro/encoding.ts";
import type {
  ChainNitroHoldings,
  ObjectiveContext,
  ObjectiveEffect,
  ReceiveNitroState,
} from "../../../../../channels/settlement/nitro/protocols/objective.ts";
import type { Exit, FixedPart } from "../../../../../channels/settlement/nitro/types.ts";
import type { Address } from "../../../../../channels/types.ts";

export const TOKEN = "0x00000000000000000000000000000000000000aa" as Address;
const verifier = new ProofVerifier();
const key = (n: number) => createSigner(new Uint8Array(32).fill(n));

export const ctxA: ObjectiveContext = { signer: key(1), verifier };
export const ctxB: ObjectiveContext = { signer: key(2), verifier };
export const stranger = key(3);

export function ledger(nonce = 1n): FixedPart {
  return {
    participants: [ctxA.signer.address, ctxB.signer.address],
    channelNonce: nonce,
    appDefinition: "0x00000000000000000000000000000000000000cc" as Address,
    challengeDuration: 60,
  };
}

export function outcomeOf(a: bigint, b: bigint): Exit {
  return [
    {
      asset: TOKEN,
      assetMetadata: { assetType: 0, metadata: "0x" },
      allocations: [
        {
          destination: destinationOf(ctxA.signer.address),
          amount: a,
          allocationType: 0,
          metadata: "0x",
        },
        {
          destination: destinationOf(ctxB.signer.address),
          amount: b,
          allocationType: 0,
          metadata: "0x",
        },
      ],
    },
  ];
}

/** A deposit or conclude waiting to be mined, from party `from`. */
export interface PendingTx {
  readonly from: 0 | 1;
  readonly effect: ObjectiveEffect;
}

/** The adjudicator's holdings of one channel in TOKEN, and the events it emitted. */
export class ModelChain {
  holdings = 0n;
  deposited = 0n;
  paidOut = new Map<string, bigint>();
  readonly events: ChainNitroHoldings[] = [];
  block = 0;
  constructor(readonly channelId = nitroChannelId(ledger())) {}

  /** Mines one transaction; returns whether it went through. */
  mine(effect: ObjectiveEffect): boolean {
    if (effect.type === "ChainSendNitroDeposit") {
      if (effect.expectedHeld !== this.holdings) return false;
      this.holdings += effect.amount;
      this.deposited += effect.amount;
    } else if (effect.type === "ChainSendNitroConcludeAndTransfer") {
      if (this.holdings === 0n) return false;
      let left = this.holdings;
      for (const a of effect.candidate.variablePart.outcome[0]!.allocations) {
        let pay = a.amount;
        if (pay > left) pay = left;
        left -= pay;
        this.paidOut.set(a.destination, (this.paidOut.get(a.destination) ?? 0n) + pay);
      }
      this.holdings = left;
    } else {
      return false;
    }
    this.block += 1;
    this.events.push({
      type: "ChainNitroHoldings",
      channelId: this.channelId,
      asset: TOKEN,
      holdings: this.holdings,
      blockNumber: this.block,
      logIndex: 0,
    });
    return true;
  }
}

/** A message one party sent the other, as the peer receives it. */
export function asReceived(e: ObjectiveEffect): ReceiveNitroState | undefined {
  if (e.type !== "SendNitroState") return undefined;
  return {
    type: "ReceiveNitroState",
    channelId: e.channelId,
    variablePart: e.variablePart,
    signature: e.signature,
  };
}

/** Holdings of a funded channel as the fund objective leaves them (8 tokens, seen at block 1). */
export const FUNDED_HOLDINGS = { holdings: 8n, blockNumber: 1, logIndex: 0 } as const;
