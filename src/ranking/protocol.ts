/**
 * The thread protocol between the HTTP thread and the ranking workers: what a worker gets at
 * start (workerData) and what one task carries each way. The feature store itself travels as
 * SharedArrayBuffers (layout in src/features/layout.ts), so tasks carry only small arrays.
 */
import type { SharedStore } from '../features/layout.js';
import type { RankInput } from './pipeline.js';

export type Group = 'control' | 'test';

export interface ModelRef {
  /** The group this model serves. */
  name: Group;
  /** Which model (and feature set) ranks it: the group's own, or control for both in an A/A test. */
  model: Group;
  version: string;
  dir: string;
}

export interface WorkerInit {
  shared: SharedStore;
  models: ModelRef[];
  candidates: number;
  rankAll: boolean;
  intraOpThreads: number;
  allowSpinning: boolean;
}

/** One micro-batch of requests of one group: one feature matrix, one session.run. */
export interface RankTask {
  kind: 'rank';
  group: Group;
  reqs: RankInput[];
  /**
   * Per request, the deadline as epoch ms (performance.timeOrigin + performance.now()). A worker
   * skips a request whose deadline passed before the batch started: no model work for it.
   */
  deadlines: number[];
}

/** Sent once per worker at start-up so a missing or mismatched model stops the service there. */
export interface WarmupTask {
  kind: 'warmup';
}

export type WorkerTask = RankTask | WarmupTask;

export interface RankTaskResult {
  /** Post ids per request, best first; null for a request skipped because its deadline passed. */
  postIds: (number[] | null)[];
  modelVersion: string;
  rows: number;
  featureMs: number;
  modelMs: number;
}

export interface WarmupResult {
  threadId: number;
  models: { name: Group; version: string; features: number; trees: number }[];
}
