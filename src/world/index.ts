// The seeded world simulator: a hidden ground truth P(u, p, t) and the logs it produces.
export { PERIOD, TOPICS, GENERATOR_VERSION, SCALE_SIZES, REAL } from './constants.js';
export type { Scale, WorldSpec, ScaleSize } from './constants.js';
export { createWorld } from './world.js';
export { EXPOSURES, TASTE_EXPOSURE, type Exposure } from './exposure.js';
export type { World } from './world.js';
export type { WorldUser } from './users.js';
export type { WorldPost } from './posts.js';
export { writeWorld, readWorldSpec } from './write.js';
export type { WorldWriteStats, WorldWriteOptions } from './write.js';
export { registerWorldCommand } from './cli.js';
export { regeneratedLikes } from './history.js';
export {
  EXPERIMENT_START_MS,
  expectedHit as visitExpectedHit,
  planVisits,
  visitOutcome,
  type Visit,
  type VisitOutcome,
  type VisitRow,
} from './visits.js';
