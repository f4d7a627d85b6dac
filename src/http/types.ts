import type { Exposure, ExpGroup } from '../ab/index.js';
import type { z } from 'zod';
import type { Config } from '../config/index.js';
import type { FeedRow } from '../live/index.js';
import type { Logger } from '../log/index.js';
import type { postSchema, reloadedSchema } from './contract.js';
import type { Metrics } from './metrics.js';
import type { HoldClock } from './shed-hold.js';

export type { ExpGroup } from '../ab/index.js';

export interface RankRequest {
  /** performance.now() time after which the answer is the fallback; the queue drops it then. */
  deadline: number;
  userId: number;
  /** The request's `time` as epoch milliseconds (UTC). */
  timeMs: number;
  limit: number;
  group: ExpGroup;
  requestId: string;
}

export interface RankResult {
  postIds: number[];
  /** Logged with every exposure, e.g. `test@2026-11-27T20:00Z` or `fallback-popular`. */
  modelVersion: string;
}

/** A post as the API answers it (the schema /openapi.json documents). */
export type PostInfo = z.infer<typeof postSchema>;

/** Everything the HTTP layer needs from ranking; the real one wraps the feature store and pool. */
export interface Recommender {
  hasUser(userId: number): boolean;
  /** The model path (worker pool). Never cancelled: after the deadline its result is dropped. */
  rank(req: RankRequest): Promise<RankResult>;
  /** Cheap and synchronous: most liked posts the user has not liked before `timeMs`. */
  fallback(req: RankRequest): RankResult;
  post(postId: number): PostInfo | undefined;
  isReady(): boolean;
  /**
   * Would the model path take one more request now? Cheap and without effect on the queue: the
   * HTTP layer sheds a request it refuses before reading its query (absent: always true).
   */
  admits?(): boolean;
  /** Called once at shutdown, after the last request was answered (e.g. destroy the pool). */
  close?(): Promise<void>;
}

export interface ExposureSink {
  log(exposure: Exposure): void;
  /** Called at shutdown after the last request was answered; should write everything buffered. */
  close?(): Promise<unknown>;
}

/** Operator actions behind the admin token. */
export interface AdminActions {
  /** Resolves with what serves now; rejects with ReloadRefusedError when the old generation stays. */
  reload(reason: string): Promise<Omit<z.infer<typeof reloadedSchema>, 'status'>>;
}

/** Appends rows to feed_data (POST /feed_data); absent when the service does not take them. */
export interface FeedLogSink {
  append(rows: readonly FeedRow[]): Promise<void>;
}

export interface HttpDeps {
  config: Config;
  recommender: Recommender;
  exposures: ExposureSink;
  feedLog?: FeedLogSink;
  metrics: Metrics;
  logger: Logger;
  admin?: AdminActions;
  /** Time for the hold on refused connections (shed-hold.ts); tests inject one. */
  holdClock?: HoldClock;
}

/** Per-request values the handlers leave for the request log. */
export interface RequestVars {
  requestId: string;
  userId?: number;
  group?: ExpGroup;
  forced?: boolean;
  fallback?: boolean;
}

export type AppEnv = { Variables: { log: RequestVars } };
