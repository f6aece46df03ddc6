/**
 * Payment sessions as pure state machines: the provider's metering and credit window, and the
 * requester's payment and usage checks. No I/O, no clock: time is `ctx.now`, counters are inputs.
 */
export type {
  ActionClose,
  ActionTick,
  ActionTunnelFailed,
  ActionTunnelUp,
  ProviderSessionEffect,
  ProviderSessionInput,
  ProviderSessionResult,
  ProviderSessionState,
  ReceiveClose,
  ReceivePayment,
  SessionContext,
  SessionPhase,
} from "./provider-session.ts";
export {
  billedOf,
  openProviderSession,
  owedOf,
  providerSessionTransition,
  wakeAt,
} from "./provider-session.ts";
export type {
  RequesterSessionEffect,
  RequesterSessionInput,
  RequesterSessionResult,
  RequesterSessionState,
  RequesterTerms,
  UsageTolerance,
} from "./requester-session.ts";
export {
  maxAcceptableClaim,
  openRequesterSession,
  requesterSessionTransition,
} from "./requester-session.ts";
export type { SessionTerms } from "./terms.ts";
export { coveredUnits, startedSeconds, unitsFromUsage } from "./terms.ts";
