import path from 'node:path';
import { Piscina } from 'piscina';
import { projectRoot } from '../config/paths.js';
import type { SharedStore } from '../features/layout.js';
import { ModelError } from '../errors/index.js';
import { MicroBatcher } from './batcher.js';
import type { RankInput } from './pipeline.js';
import type { Group, ModelRef, RankTask, RankTaskResult, WarmupResult, WorkerInit } from './protocol.js';

/** What the pool reports; the HTTP Metrics object satisfies it. */
export interface PoolObserver {
  observeBatchSize(size: number): void;
  setQueueDepth(depth: number): void;
  observeWorkerRun(seconds: number): void;
}

export interface PoolOptions {
  shared: SharedStore;
  models: ModelRef[];
  workers: number;
  intraOpThreads: number;
  allowSpinning?: boolean;
  candidates: number;
  rankAll: boolean;
  maxBatchRequests: number;
  maxBatchDelayMs: number;
  observer?: PoolObserver;
  /** Compiled worker script (tests may point elsewhere). */
  workerFile?: string;
}

export interface RankOutput {
  postIds: number[];
  modelVersion: string;
}

export const WORKER_FILE = () => path.join(projectRoot(), 'dist', 'workers', 'rank-worker.js');

/**
 * Piscina workers holding the models, fed by one micro-batcher per group. Tasks are never
 * cancelled: terminating a worker inside session.run aborts the whole process, so deadlines act
 * in the HTTP layer and late results are simply dropped there.
 */
export class RankerPool {
  private readonly batchers = new Map<Group, MicroBatcher<RankInput, RankOutput>>();
  /** Tasks handed to Piscina and not settled: close() must outlive every one of them. */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    readonly piscina: Piscina,
    readonly warmup: WarmupResult,
    private readonly opts: PoolOptions,
  ) {
    for (const m of opts.models) {
      this.batchers.set(
        m.name,
        new MicroBatcher<RankInput, RankOutput>({
          maxBatch: opts.maxBatchRequests,
          maxDelayMs: opts.maxBatchDelayMs,
          // While every worker is busy, requests keep gathering into the next (larger) batch.
          maxConcurrentFlushes: opts.workers,
          onBatch: (n) => opts.observer?.observeBatchSize(n),
          flush: (reqs) => this.runBatch(m.name, reqs),
        }),
      );
    }
  }

  /** Starts the workers and waits until each has loaded its models (ModelError if one cannot). */
  static async start(opts: PoolOptions): Promise<RankerPool> {
    const workerData: WorkerInit = {
      shared: opts.shared,
      models: opts.models,
      candidates: opts.candidates,
      rankAll: opts.rankAll,
      intraOpThreads: opts.intraOpThreads,
      allowSpinning: opts.allowSpinning ?? false,
    };
    const piscina = new Piscina({
      filename: opts.workerFile ?? WORKER_FILE(),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      idleTimeout: 2 ** 31 - 1,
      // The default queue is not first-in-first-out under load; latency tails grow without this.
      stricterFIFO: true,
      // close() runs only after every batch settled, so Piscina's own wait ends at once; but its
      // timeout timer keeps the closed pool (and the feature store in workerData) reachable until
      // it fires: with the default 30 s, each reload within 30 s held one more store.
      closeTimeout: 1_000,
      workerData,
    });
    let warm: WarmupResult[];
    try {
      warm = (await Promise.all(
        Array.from({ length: opts.workers }, () => piscina.run({ kind: 'warmup' })),
      )) as WarmupResult[];
    } catch (err) {
      await piscina.destroy();
      const e = err as Error;
      throw e.name === 'ModelError' || e instanceof ModelError
        ? new ModelError(e.message)
        : new ModelError(`ranking workers failed to start: ${e.message}`, { cause: err });
    }
    return new RankerPool(piscina, warm[0]!, opts);
  }

  rank(group: Group, input: RankInput): Promise<RankOutput> {
    if (this.closed) return Promise.reject(new ModelError('the ranking pool is closing'));
    const b = this.batchers.get(group);
    if (!b) return Promise.reject(new ModelError(`no ${group} model is loaded`));
    return b.add(input);
  }

  get queueSize(): number {
    return this.piscina.queueSize;
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  /**
   * Waits for every batch already accepted, then stops the workers. Terminating a worker inside
   * session.run aborts the whole process, and at SIGTERM under load calls whose HTTP answer already
   * went out as a fallback are still queued; Piscina's close alone does not wait for those.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const busy = () => [...this.batchers.values()].some((b) => b.pending > 0 || b.flushing > 0);
    while (this.running.size > 0 || busy()) {
      if (this.running.size > 0) await Promise.allSettled([...this.running]);
      else await new Promise((r) => setTimeout(r, 5));
    }
    await this.piscina.close();
  }

  private async runBatch(group: Group, reqs: RankInput[]): Promise<RankOutput[]> {
    const task: RankTask = { kind: 'rank', group, reqs };
    this.opts.observer?.setQueueDepth(this.piscina.queueSize);
    const run = this.piscina.run(task) as Promise<RankTaskResult>;
    this.running.add(run);
    let res: RankTaskResult;
    try {
      res = await run;
    } finally {
      this.running.delete(run);
    }
    this.opts.observer?.observeWorkerRun((res.featureMs + res.modelMs) / 1000);
    return res.postIds.map((postIds) => ({ postIds, modelVersion: res.modelVersion }));
  }
}
