import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DropReason } from '../ranking/batcher.js';

// Request latencies span a cache-hot 1 ms answer to a 2 s overload; these cover both ends.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const RUN_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export type FallbackReason = 'deadline' | 'error';

/**
 * The service's Prometheus metrics on their own registry (so tests and several apps in one
 * process never collide). HTTP records requests; the ranking pool records batches, queue depth
 * and worker run time through the methods below.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'feedrec_http_request_duration_seconds',
    help: 'HTTP request latency by route, status and A/B group',
    labelNames: ['route', 'status', 'group'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly fallbacks = new Counter({
    name: 'feedrec_fallbacks_total',
    help: 'Answers served by the cheap fallback ranking instead of the model',
    labelNames: ['reason', 'group'] as const,
    registers: [this.registry],
  });
  readonly shed = new Counter({
    name: 'feedrec_shed_requests_total',
    help: 'Requests refused with 503 because the ranking queue was full',
    registers: [this.registry],
  });
  readonly connectionHolds = new Counter({
    name: 'feedrec_connection_holds_total',
    help: 'Refused connections left unread until the queue had room or their Retry-After passed (src/http/shed-hold.ts)',
    registers: [this.registry],
  });
  readonly heldConnections = new Gauge({
    name: 'feedrec_held_connections',
    help: 'Refused connections not being read now (until the queue has room or their Retry-After passes)',
    registers: [this.registry],
  });
  readonly queueDrops = new Counter({
    name: 'feedrec_queue_drops_total',
    help: 'Requests that left the ranking queue unserved: shed at admission (503), shed after their longest wait (503), or past their deadline before any model work (fallback)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly workerFailures = new Counter({
    name: 'feedrec_ranking_worker_failures_total',
    help: 'Ranking worker failures: batch (a batch failed because its worker threw or died; its requests got the fallback), idle (a worker died with no batch in flight); a dead worker is replaced',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly rankingInFlight = new Gauge({
    name: 'feedrec_ranking_in_flight',
    help: 'Model ranking calls started and not settled (including ones past their deadline)',
    registers: [this.registry],
  });
  readonly lateResults = new Counter({
    name: 'feedrec_late_model_results_total',
    help: 'Model results that arrived after the deadline and were dropped',
    registers: [this.registry],
  });
  readonly exposuresDropped = new Counter({
    name: 'feedrec_exposures_dropped_total',
    help: 'Exposure rows lost, by reason (spool_full: the spool reached its size while the database was away)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly exposuresSpooledTotal = new Counter({
    name: 'feedrec_exposures_spooled_total',
    help: 'Exposure rows written to the spool because the database could not take them',
    registers: [this.registry],
  });
  readonly exposuresReplayedTotal = new Counter({
    name: 'feedrec_exposures_replayed_total',
    help: 'Spooled exposure rows written to the database once it was back',
    registers: [this.registry],
  });
  readonly exposuresQuarantinedTotal = new Counter({
    name: 'feedrec_exposures_quarantined_total',
    help: 'Exposure rows the database refused for good, kept in the spool folder quarantine file',
    registers: [this.registry],
  });
  readonly spoolRows = new Gauge({
    name: 'feedrec_exposure_spool_rows',
    help: 'Exposure rows waiting in the spool for the database',
    registers: [this.registry],
  });
  readonly spoolBytes = new Gauge({
    name: 'feedrec_exposure_spool_bytes',
    help: 'Bytes the spool folder holds (its bound is FEEDREC_SPOOL_MAX_MB)',
    registers: [this.registry],
  });
  readonly spoolFull = new Gauge({
    name: 'feedrec_exposure_spool_full',
    help: '1 while the spool is full and new exposures are dropped, else 0',
    registers: [this.registry],
  });
  readonly workerErrors = new Counter({
    name: 'feedrec_worker_errors_total',
    help: 'Ranking worker failures outside any task (the pool replaces the worker)',
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'feedrec_batch_size',
    help: 'Requests per model batch',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'feedrec_pool_queue_depth',
    help: 'Tasks waiting in the worker pool queue',
    registers: [this.registry],
  });
  readonly workerRunTime = new Histogram({
    name: 'feedrec_worker_run_seconds',
    help: 'Time a worker spent on one task (feature assembly + model run)',
    buckets: RUN_BUCKETS,
    registers: [this.registry],
  });

  readonly reloads = new Counter({
    name: 'feedrec_reloads_total',
    help: 'Reloads of models and feature snapshot, by result (ok, or refused: the old generation kept serving)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reloadDuration = new Histogram({
    name: 'feedrec_reload_duration_seconds',
    help: 'Time to load and warm a new generation (or to fail doing so)',
    labelNames: ['result'] as const,
    buckets: [0.5, 1, 2, 5, 10, 20, 40, 80],
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: 'feedrec_model_info',
    help: 'The model versions serving now (value 1), as <name>/<version>',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly liveRows = new Counter({
    name: 'feedrec_live_rows_total',
    help: 'Feed rows followed into the live feature store, by outcome (view, like, dropped: pool full, skipped: unknown user or post)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly liveSeq = new Gauge({
    name: 'feedrec_live_applied_seq',
    help: 'Last feed_changes row applied to the live feature store',
    registers: [this.registry],
  });
  readonly followErrors = new Counter({
    name: 'feedrec_live_follow_errors_total',
    help: 'Failed polls of feed_changes (retried on the next tick)',
    registers: [this.registry],
  });
  readonly ingestedRows = new Counter({
    name: 'feedrec_ingested_rows_total',
    help: 'Rows appended to feed_data through POST /feed_data',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // Process RSS, CPU, event-loop lag: what an operator checks first.
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'feedrec_' });
  }

  observeBatchSize(size: number): void {
    this.batchSize.observe(size);
  }

  setQueueDepth(depth: number): void {
    this.queueDepth.set(depth);
  }

  observeWorkerRun(seconds: number): void {
    this.workerRunTime.observe(seconds);
  }

  reloaded(result: 'ok' | 'refused', seconds: number): void {
    this.reloads.inc({ result });
    this.reloadDuration.observe({ result }, seconds);
  }

  servingModels(labels: string[]): void {
    this.modelInfo.reset();
    for (const model of labels) this.modelInfo.set({ model }, 1);
  }

  exposuresSpooled(rows: number): void {
    this.exposuresSpooledTotal.inc(rows);
  }

  exposuresReplayed(rows: number): void {
    this.exposuresReplayedTotal.inc(rows);
  }

  exposuresQuarantined(rows: number): void {
    this.exposuresQuarantinedTotal.inc(rows);
  }

  exposuresDroppedFor(reason: string, rows: number): void {
    this.exposuresDropped.inc({ reason }, rows);
  }

  spoolState(state: { rows: number; bytes: number; full: boolean }): void {
    this.spoolRows.set(state.rows);
    this.spoolBytes.set(state.bytes);
    this.spoolFull.set(state.full ? 1 : 0);
  }

  observeQueueDrop(reason: DropReason, count: number): void {
    this.queueDrops.inc({ reason }, count);
  }

  observeWorkerFailure(kind: 'batch' | 'idle'): void {
    this.workerFailures.inc({ kind });
  }

  observeLiveRows(n: { views: number; likes: number; dropped: number; skipped: number }): void {
    this.liveRows.inc({ outcome: 'view' }, n.views);
    this.liveRows.inc({ outcome: 'like' }, n.likes);
    this.liveRows.inc({ outcome: 'dropped' }, n.dropped);
    this.liveRows.inc({ outcome: 'skipped' }, n.skipped);
  }

  setLiveSeq(seq: number): void {
    this.liveSeq.set(seq);
  }

  observeFollowError(): void {
    this.followErrors.inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
