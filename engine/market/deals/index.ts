/** The deal book's pure protocol: statuses, inputs, effects and the transition. */
export {
  type Deal,
  type DealContext,
  type DealEffect,
  type DealEvent,
  type DealInput,
  type DealStatus,
  type DealTimeouts,
  type DealTransition,
  dealTransition,
  isTerminal,
  maxCostOf,
  nextTimeout,
  type Party,
  type ProposeParams,
  proposeDeal,
} from "./deal-protocol.ts";
