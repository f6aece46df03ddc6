/**
 * The crawler gateway: the targeting a crawler writes in its proxy username, and the market
 * request it becomes. Pure so far; the proxy listeners and the session pool sit on top of it.
 */
export { COUNTRIES } from "./countries.ts";
export { type RequestContext, requestSpecOf } from "./request-spec.ts";
export {
  ANY_TARGETING,
  DEFAULT_SESSION_MINUTES,
  formatTargeting,
  LOST_EXIT_POLICIES,
  type LostExitPolicy,
  MAX_PLACE_LENGTH,
  MAX_ROTATE_REQUESTS,
  MAX_SESSION_LENGTH,
  MAX_SESSION_MINUTES,
  MAX_USERNAME_LENGTH,
  parseTargeting,
  type Stickiness,
  type Targeting,
  type TargetingErrorCode,
} from "./targeting.ts";
