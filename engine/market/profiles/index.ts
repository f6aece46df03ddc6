/** Provider profiles: ratings and deal history. */
export {
  addRating,
  emptyProfile,
  type Profile,
  ratingMilli,
  recordOutcome,
} from "./profile.ts";
