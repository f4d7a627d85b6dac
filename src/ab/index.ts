export { BUCKETS, assignGroup, bucketOf, groupOf, type ExpGroup } from './bucket.js';
export {
  ExposureLogger,
  type Exposure,
  type ExposureLoggerOptions,
  type ExposureStats,
} from './exposures.js';
