export { BUCKETS, assignGroup, bucketOf, groupOf, type ExpGroup } from './bucket.js';
export {
  ExposureLogger,
  type DropReason,
  type Exposure,
  type ExposureLoggerOptions,
  type ExposureObserver,
  type ExposureStats,
} from './exposures.js';
export { DiskSpool, MemorySpool, type KeyedExposure, type Spool, type SpoolSegment } from './spool.js';
