import path from 'node:path';
import { Piscina } from 'piscina';
import { projectRoot } from '../config/paths.js';
import type { SharedStore } from '../features/layout.js';
import { silentLogger, type Logger } from '../log/index.js';
import { DeadlineExceededError, ModelError } from '../errors/index.js';
import { createAdmission, type AdmissionPolicy, type AdmissionPolicyName } from './admission.js';
import { ItemFailure, MicroBatcher, systemClock, type DropReason } from './batcher.js';
import type { RankInput } from './pipeline.js';
import {
  WORKER_WARM,
  type Group,
  type ModelRef,
  type RankTask,
  type RankTaskResult,
  type WarmupResult,
  type WorkerFault,
  type WorkerInit,
} from './protocol.js';

/** What the pool reports; the HTTP Metrics object satisfies it. */
export interface PoolObserver {
  observeBatchSize(size: number): void;
  setQueueDepth(depth: number): void;
  observeWorkerRun(seconds: number): void;
  /** Requests that left the queue unserved: shed by admission or max wait, or past their deadline. */
  observeQueueDrop(reason: DropReason, count: number): void;
  /**
   * A worker failure: a batch whose task failed (the worker threw, or its thread died holding
   * it; its requests get fallback answers), or a thread that died with no batch in flight.
   */
  observeWorkerFailure(kind: 'batch' | 'idle'): void;
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
  /** Admission policy of the ranking queue (admission.ts), its hard bound and its target. */
  admission?: AdmissionPolicyName;
  queueLimit?: number;
  queueTargetMs?: number;
  /** Batches handed to each worker at once; above 1 a worker never waits for this thread. */
  tasksPerWorker?: number;
  observer?: PoolObserver;
  /** Where worker failures are told. */
  logger?: Logger;
  /** Compiled worker script (tests may point elsewhere). */
  workerFile?: string;
  /**
   * Tests only: lets injectFault() make a worker throw or die. Config has no such setting, so a
   * served pool never obeys a fault, whatever a task carries.
   */
  faultInjection?: boolean;
}

export interface RankOutput {
  postIds: number[];
  modelVersion: string;
}

/** What injectFault() reports once the batch that carried the fault has settled. */
export interface InjectedFault {
  /** Requests of that batch: the only ones the fault may affect. */
  requests: number;
  /** The task failed (false for crash-idle, whose batch is ranked before the thread dies). */
  failed: boolean;
  /** performance.now() when the batch settled. */
  at: number;
}

export const WORKER_FILE = () => path.join(projectRoot(), 'dist', 'workers', 'rank-worker.js');

interface Queued {
  group: Group;
  input: RankInput;
  /** Deadline as epoch ms (performance.timeOrigin + now), comparable across threads. */
  deadlineEpochMs: number;
}

/**
 * Piscina workers holding the models, fed by one micro-batcher whose batches each hold one
 * group's requests. One queue for both groups: the admission policy sees all the work waiting
 * for the same workers, and batches never wait in Piscina's own queue, where they could expire.
 * Tasks are never cancelled: terminating a worker inside session.run aborts the whole process, so
 * a request that is late once running still runs and the HTTP layer drops its result.
 */
export class RankerPool {
  private readonly batcher: MicroBatcher<Queued, RankOutput>;
  private readonly admission: AdmissionPolicy;
  private readonly groups: Set<Group>;
  /** Tasks handed to Piscina and not settled: close() must outlive every one of them. */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  private armedFault: { fault: WorkerFault; report: (r: InjectedFault) => void } | undefined;

  private constructor(
    readonly piscina: Piscina,
    readonly warmup: WarmupResult,
    private readonly opts: PoolOptions,
    /** Threads that loaded and warmed their models (replacements of dead ones included). */
    private readonly warm: Set<number>,
  ) {
    this.groups = new Set(opts.models.map((m) => m.name));
    const slots = opts.workers * (opts.tasksPerWorker ?? 1);
    this.admission = createAdmission(
      {
        policy: opts.admission ?? 'queue-time',
        limit: opts.queueLimit ?? 256,
        targetMs: opts.queueTargetMs ?? 150,
        slots,
        workers: opts.workers,
        minQueue: slots * opts.maxBatchRequests,
      },
      systemClock.now(),
    );
    this.batcher = new MicroBatcher<Queued, RankOutput>({
      maxBatch: opts.maxBatchRequests,
      maxDelayMs: opts.maxBatchDelayMs,
      // While every slot is busy, requests keep gathering into the next (larger) batch.
      maxConcurrentFlushes: slots,
      key: (q) => q.group,
      admission: this.admission,
      onBatch: (n) => opts.observer?.observeBatchSize(n),
      onDrop: (reason, n) => opts.observer?.observeQueueDrop(reason, n),
      flush: (items) => this.runBatch(items),
    });
    // Piscina emits 'error' when a worker fails with no task in flight (an uncaught exception in a
    // timer, say); unheard, that event ends the process. Piscina has already started a
    // replacement by then (the pool stays whole), so the failure is told and counted, no more.
  }

  /**
   * Listens to the workers from their start (before the warm-up): which ones are warm, and the
   * failures of a worker with no task in flight. Piscina emits those as 'error'; unheard, that
   * event ends the process. Piscina has already started a replacement by then (the pool becomes
   * whole again), so the failure is told and counted, no more.
   */
  private static watch(piscina: Piscina, opts: PoolOptions, warm: Set<number>): void {
    piscina.on('message', (m: unknown) => {
      const id = (m as Record<string, unknown> | null)?.[WORKER_WARM];
      if (typeof id !== 'number') return;
      warm.add(id);
      // Forget threads that are gone, so the set stays as small as the pool.
      const alive = new Set(piscina.threads.map((t) => t.threadId));
      for (const w of warm) if (!alive.has(w)) warm.delete(w);
    });
    piscina.on('error', (err: Error) => {
      opts.observer?.observeWorkerFailure('idle');
      (opts.logger ?? silentLogger).error({
        msg: 'ranking worker failed with no batch in flight; a new one replaces it',
        err,
      });
    });
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
      faultInjection: opts.faultInjection ?? false,
    };
    const piscina = new Piscina({
      filename: opts.workerFile ?? WORKER_FILE(),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: opts.tasksPerWorker ?? 1,
      // The default queue is not first-in-first-out under load; latency tails grow without this.
      stricterFIFO: true,
      // close() runs only after every batch settled, so Piscina's own wait ends at once; but its
      // timeout timer keeps the closed pool (and the feature store in workerData) reachable until
      // it fires: with the default 30 s, each reload within 30 s held one more store.
      closeTimeout: 1_000,
      workerData,
    });
    const warmThreads = new Set<number>();
    RankerPool.watch(piscina, opts, warmThreads);
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
    return new RankerPool(piscina, warm[0]!, opts, warmThreads);
  }

  /**
   * Ranks one request before `deadline` (performance.now() time of this thread). Rejects with
   * OverloadedError when admission sheds it and DeadlineExceededError when no worker started it
   * in time.
   */
  rank(group: Group, input: RankInput, deadline = Number.POSITIVE_INFINITY): Promise<RankOutput> {
    if (this.closed) return Promise.reject(new ModelError('the ranking pool is closing'));
    if (!this.groups.has(group)) return Promise.reject(new ModelError(`no ${group} model is loaded`));
    return this.batcher.add({ group, input, deadlineEpochMs: performance.timeOrigin + deadline }, deadline);
  }

  /** Would the ranking queue take one more request now (admission.ts)? Cheap, for early shedding. */
  admits(): boolean {
    return !this.closed && this.batcher.admits();
  }

  get queueSize(): number {
    return this.piscina.queueSize;
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  /**
   * Every worker the pool should have is running and has warmed its models: false from the death
   * of a worker until its replacement can rank.
   */
  get whole(): boolean {
    const threads = this.piscina.threads;
    return threads.length === this.opts.workers && threads.every((t) => this.warm.has(t.threadId));
  }

  /**
   * Tests only (the faultInjection option): the next batch handed to a worker carries `fault`.
   * Resolves when that batch settled, with its size: the requests the fault may affect.
   */
  injectFault(fault: WorkerFault): Promise<InjectedFault> {
    if (!this.opts.faultInjection)
      return Promise.reject(new Error('fault injection is off (a test-only RankerPool option)'));
    if (this.armedFault) return Promise.reject(new Error('a fault is already waiting for a batch'));
    return new Promise((report) => (this.armedFault = { fault, report }));
  }

  /**
   * Waits for every batch already accepted, then stops the workers. Terminating a worker inside
   * session.run aborts the whole process, and at SIGTERM under load calls whose HTTP answer already
   * went out as a fallback are still queued; Piscina's close alone does not wait for those.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const busy = () => this.batcher.pending > 0 || this.batcher.flushing > 0;
    while (this.running.size > 0 || busy()) {
      if (this.running.size > 0) await Promise.allSettled([...this.running]);
      else await new Promise((r) => setTimeout(r, 5));
    }
    await this.piscina.close();
  }

  private async runBatch(items: Queued[]): Promise<(RankOutput | ItemFailure)[]> {
    const armed = this.armedFault;
    this.armedFault = undefined;
    const task: RankTask = {
      kind: 'rank',
      group: items[0]!.group,
      reqs: items.map((q) => q.input),
      deadlines: items.map((q) => q.deadlineEpochMs),
      ...(armed ? { fault: armed.fault } : {}),
    };
    this.opts.observer?.setQueueDepth(this.piscina.queueSize);
    const run = this.piscina.run(task) as Promise<RankTaskResult>;
    this.running.add(run);
    let res: RankTaskResult;
    try {
      res = await run;
    } catch (err) {
      // The worker threw, or its thread died holding this batch (Piscina starts a replacement):
      // this batch's requests alone fail, and the HTTP layer answers them with the fallback.
      this.opts.observer?.observeWorkerFailure('batch');
      armed?.report({ requests: items.length, failed: true, at: performance.now() });
      throw err;
    } finally {
      this.running.delete(run);
    }
    armed?.report({ requests: items.length, failed: false, at: performance.now() });
    this.opts.observer?.observeWorkerRun((res.featureMs + res.modelMs) / 1000);
    const expired = res.postIds.filter((p) => p === null).length;
    if (expired > 0) this.opts.observer?.observeQueueDrop('deadline', expired);
    if (items.length > expired) this.admission.onServed?.(items.length - expired, res.serviceMs);
    return res.postIds.map((postIds) =>
      postIds === null
        ? new ItemFailure(new DeadlineExceededError())
        : { postIds, modelVersion: res.modelVersion },
    );
  }
}
