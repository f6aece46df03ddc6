/**
 * The settle windows tollway deploys PaymentChannels with. The contract takes its bounds at
 * deployment (`minSettleWindow`, `maxSettleWindow`, below 2^24 s) and refuses an open outside
 * them with `SettleWindowOutOfBounds`; a deployment made by someone else may have other bounds:
 * `ChainClient.settleWindowBounds()` reads the ones in force.
 */

/** The shortest settle window of tollway's deployments: 10 seconds. */
export const MIN_SETTLE_WINDOW_SECONDS = 10;

/** The longest settle window of tollway's deployments: 30 days. */
export const MAX_SETTLE_WINDOW_SECONDS = 30 * 24 * 3600;
