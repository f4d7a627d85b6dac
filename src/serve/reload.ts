import { ReloadRefusedError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { closeGeneration, modelLabels, type Generation } from './generation.js';
import type { PoolRecommender } from './recommender.js';

export interface ReloadReport {
  generation: number;
  previous: string[];
  models: string[];
  users: number;
  posts: number;
  likes: number;
  /** Load + warm-up of the new generation, until the swap. */
  loadMs: number;
}

/** What the reloader reports to (the HTTP Metrics object satisfies it). */
export interface ReloadObserver {
  reloaded(result: 'ok' | 'refused', seconds: number): void;
  servingModels(labels: string[]): void;
}

export interface ReloaderOptions {
  recommender: PoolRecommender;
  /** Builds the next generation (newest models, fresh snapshot); rejects when it cannot. */
  load: (id: number) => Promise<Generation>;
  logger: Logger;
  observer?: ReloadObserver;
  now?: () => number;
}

/**
 * Swaps in a new generation without dropping a request: the new one is built and warmed beside
 * the serving one, swapped in one assignment, and the old pool is closed only after its last
 * accepted batch. A load that fails leaves the serving generation untouched and says why.
 *
 * One reload runs at a time. A reload asked for while one runs is not merged into it (new files
 * may have arrived after it listed the models folder): it runs once more afterwards, and every
 * caller asking meanwhile shares that one run.
 */
export class Reloader {
  private running: Promise<ReloadReport> | undefined;
  private queued: Promise<ReloadReport> | undefined;
  private readonly now: () => number;
  /** Old generations whose last batches are still running. */
  private readonly retiring = new Set<Promise<void>>();

  constructor(private readonly opts: ReloaderOptions) {
    this.now = opts.now ?? (() => performance.now());
    opts.observer?.servingModels(modelLabels(opts.recommender.current.models));
  }

  reload(reason: string): Promise<ReloadReport> {
    if (!this.running) {
      this.running = this.run(reason).finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.reload(reason);
      });
    return this.queued;
  }

  /** Resolves when every retired generation has finished its batches and stopped its workers. */
  async settled(): Promise<void> {
    while (this.running || this.queued) await (this.queued ?? this.running)!.catch(() => undefined);
    await Promise.allSettled([...this.retiring]);
  }

  private async run(reason: string): Promise<ReloadReport> {
    const { recommender, logger, observer } = this.opts;
    const started = this.now();
    const prev = recommender.current;
    const id = prev.id + 1;
    logger.info({ msg: 'reload started', reason, generation: id, serving: modelLabels(prev.models) });
    let next: Generation;
    try {
      next = await this.opts.load(id);
    } catch (err) {
      const seconds = (this.now() - started) / 1000;
      observer?.reloaded('refused', seconds);
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      logger.error({
        msg: 'reload refused, the serving models stay',
        reason,
        serving: modelLabels(prev.models),
        err,
      });
      throw new ReloadRefusedError(why, modelLabels(prev.models), { cause: err });
    }
    recommender.swap(next);
    const loadMs = this.now() - started;
    observer?.reloaded('ok', loadMs / 1000);
    observer?.servingModels(modelLabels(next.models));
    const report: ReloadReport = {
      generation: next.id,
      previous: modelLabels(prev.models),
      models: modelLabels(next.models),
      users: next.store.dims.users,
      posts: next.store.dims.posts,
      likes: next.store.dims.likes,
      loadMs: Math.round(loadMs),
    };
    logger.info({ msg: 'reloaded', reason, ...report });
    this.retire(prev);
    return report;
  }

  private retire(prev: Generation): void {
    const done = closeGeneration(prev).then(
      () => this.opts.logger.info({ msg: 'previous generation released', generation: prev.id }),
      (err: unknown) =>
        this.opts.logger.error({
          msg: 'previous generation did not close cleanly',
          generation: prev.id,
          err,
        }),
    );
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }
}
