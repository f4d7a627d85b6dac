export {
  buildFeatures,
  invalidateFeatures,
  FEATURE_VERSION,
  TEXT_CLUSTERS,
  type FeatureBuildStats,
} from './build.js';
export { loadFeatureStore, type LoadedStore, type LoadStoreOptions } from './load.js';
export { cutStoreAt } from './cut.js';
export {
  appendLiveEvent,
  forEachLiveEvent,
  liveStats,
  LIVE_LIKE,
  LIVE_VIEW,
  type LiveEvent,
  type LiveKind,
  type LiveStats,
} from './live.js';
export {
  allocateStore,
  attachStore,
  dayOf,
  storeBytes,
  PROFILE,
  FIELDS,
  type FeatureMeta,
  type FeatureStore,
  type SharedStore,
  type StoreDims,
} from './layout.js';
export {
  CONTROL_FEATURES,
  TEST_FEATURES,
  featureNames,
  fillRow,
  fillUserContext,
  newUserContext,
  globalLikeRate,
  postLikeRate,
  type FeatureSet,
  type UserContext,
} from './row.js';
export { buildTextModel, tokenize } from './text.js';
