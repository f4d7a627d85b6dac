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
  /** Obey RankTask.fault (tests only: RankerPool's faultInjection option, never set by config). */
  faultInjection: boolean;
}

/**
 * What a worker does with a batch that carries a test-injected fault: `throw` rejects the task
 * (the thread lives on); `crash` throws outside the task, an uncaught exception that ends the
 * thread while it holds the batch; `exit` ends the thread with process.exit(1) while it holds it.
 */
export type WorkerFault = 'throw' | 'crash' | 'exit';

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
  /** Test-only (see WorkerFault); a worker started without faultInjection ignores it. */
  fault?: WorkerFault;
}

/** Key of the message a worker posts once its models are loaded and warmed: { [WORKER_WARM]: threadId }. */
export const WORKER_WARM = 'feedrecWorkerWarm';

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
  /** The worker thread that ranked the batch. */
  threadId: number;
  /** Worker time from taking the task to its result (admission's measure of service time). */
  serviceMs: number;
}

export interface WarmupResult {
  threadId: number;
  models: { name: Group; version: string; features: number; trees: number }[];
}
