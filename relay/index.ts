/**
 * tollway relay: the WebSocket wire format, payment sessions (pure cores), the provider node,
 * the requester SDK and the tunnel drivers. See docs/architecture.md, "Payment sessions".
 */
export type { CloseCodeValue, RelayErrorCode, RelayResult } from "./errors.ts";
export { CloseCode, closeCodeOf, isRelayError, RelayError } from "./errors.ts";
export type {
  FastLaneHop,
  IspAccount,
  IspSettlement,
  PathCloseCode,
  PathClosure,
  RunningPath,
  RunPathOptions,
} from "./fastlane/index.ts";
export { createIspNode, FastLaneRequester, PathClosedError, runPath } from "./fastlane/index.ts";
export type {
  ConnectionLimits,
  PricePolicy,
  ProviderNode,
  ProviderNodeOptions,
  ProviderStats,
  SessionClosedEvent,
} from "./provider/index.ts";
export { createProviderNode } from "./provider/index.ts";
export type {
  CooperativeCloseTx,
  FundedChannel,
  OpenSessionOptions,
  RequesterOptions,
  SessionChannel,
  SessionEnd,
  SignedSettlement,
  WireConnection,
} from "./requester/index.ts";
export {
  closeCooperatively,
  connect,
  openChannel,
  openWireConnection,
  RequesterClient,
  readChannel,
  Session,
  topUpChannel,
} from "./requester/index.ts";
export type {
  ProviderSessionState,
  RequesterSessionState,
  RequesterTerms,
  SessionTerms,
  UsageTolerance,
} from "./session/index.ts";
export {
  providerSessionTransition,
  requesterSessionTransition,
} from "./session/index.ts";
export type {
  MeteredTunnelDriver,
  ProxyDriverOptions,
  QosDriverOptions,
  SystemTunnelErrorCode,
  TunnelConfig,
  TunnelDriver,
  TunnelKind,
  TunnelLimits,
  TunnelRequest,
  TunnelUsage,
  WireGuardClientConfig,
  WireGuardDriverOptions,
} from "./tunnel/index.ts";
export {
  bringUpWireGuardClient,
  createProxyDriver,
  createQosDriver,
  createWireGuardDriver,
  isMetered,
  isSystemTunnelError,
  renderWgQuickConfig,
  SystemTunnelError,
} from "./tunnel/index.ts";
export type { QosDriver } from "./tunnel/qos/index.ts";
export type { WireGuardClient, WireGuardDriver } from "./tunnel/wireguard/index.ts";
export { generateWireGuardKeyPair } from "./tunnel/wireguard/index.ts";
export type { Frame, MeterMode } from "./wire/index.ts";
export { decodeFrame, encodeFrame, FrameType, PROTOCOL_VERSION } from "./wire/index.ts";
