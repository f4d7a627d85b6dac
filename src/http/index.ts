export { createApp, type FeedrecApp, type ServingControl } from './app.js';
export { mapError } from './errors.js';
export { ingestAllowed, parseFeedRows, INGEST_TOKEN_HEADER, MAX_INGEST_ROWS } from './ingest.js';
export { Metrics, type FallbackReason } from './metrics.js';
export { openApiDocument } from './openapi.js';
export { MODEL_VERSION_HEADER } from './recommend.js';
export { parseIsoTime, parseRecommendationsQuery, DEFAULT_LIMIT, MAX_LIMIT } from './params.js';
export { startServer, type RunningServer, type StartOptions } from './serve.js';
export type {
  AdminActions,
  ExpGroup,
  ExposureSink,
  FeedLogSink,
  HttpDeps,
  PostInfo,
  RankRequest,
  RankResult,
  Recommender,
} from './types.js';
