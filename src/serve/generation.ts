import type { Config } from '../config/index.js';
import type { Database } from '../db/index.js';
import { ModelError } from '../errors/index.js';
import {
  liveStats,
  loadFeatureStore,
  storeBytes,
  type FeatureStore,
  type SharedStore,
} from '../features/index.js';
import { FeedFollower, type FollowerObserver } from '../live/index.js';
import { silentLogger, type Logger } from '../log/index.js';
import type { PostInfo } from '../http/index.js';
import { findModels } from '../ranking/onnx-model.js';
import { RankerPool, type PoolObserver } from '../ranking/pool.js';
import type { Group, ModelRef } from '../ranking/protocol.js';

/**
 * Everything one answer is ranked from: a feature snapshot in its own shared buffers, the post
 * catalog of that snapshot, and worker sessions of one set of model versions. A reload builds a
 * whole new generation beside the serving one and swaps them; the two never share mutable state,
 * so an answer is ranked by one generation from start to end.
 */
export interface Generation {
  /** 1 for the generation built at start-up, +1 per successful reload. */
  readonly id: number;
  readonly store: FeatureStore;
  readonly shared: SharedStore;
  readonly catalog: Map<number, PostInfo>;
  readonly pool: RankerPool;
  /** Follows the log into this generation's store, from its snapshot's watermark on. */
  readonly follower: FeedFollower;
  readonly models: ModelRef[];
  readonly loadedAt: Date;
}

/** Stops a generation: its pool after the last accepted batch, and its follower. */
export async function closeGeneration(g: Generation): Promise<void> {
  await g.follower.close();
  await g.pool.close();
}

export const groupsOf = (mode: Config['mode']): Group[] => (mode === 'ab' ? ['control', 'test'] : [mode]);

/** `<name>/<version folder>` of each model, as answers and exposures name them. */
export const modelLabels = (models: readonly ModelRef[]): string[] =>
  models.map((m) => `${m.name}/${m.version}`);

/** The models the mode needs, latest version of each; a clear ModelError when one is missing. */
export async function modelRefs(cfg: Config): Promise<ModelRef[]> {
  const found = await findModels(cfg.modelsDir);
  return groupsOf(cfg.mode).map((name) => {
    const model = cfg.mode === 'ab' && name === 'test' ? cfg.ab.testModel : name;
    const loc = found.get(model);
    if (!loc)
      throw new ModelError(
        `mode ${cfg.mode} needs a ${model} model, but ${cfg.modelsDir}/${model}/ has no version: run \`npm run train\``,
      );
    return { name, model, version: loc.version, dir: loc.dir };
  });
}

export interface LoadGenerationOptions {
  id: number;
  observer?: PoolObserver & FollowerObserver;
  log?: (fields: Record<string, unknown>) => void;
  /** Where the follower reports failed polls and a full live pool, and the pool worker failures. */
  logger?: Logger;
  /** Tests only: the pool obeys RankerPool.injectFault (see PoolOptions.faultInjection). */
  faultInjection?: boolean;
}

/**
 * Reads the newest model versions and a fresh feature snapshot, and starts workers over them.
 * Resolves only when every worker has loaded its sessions and ranked a warm-up request; any
 * failure (ModelError, MissingDataError, …) leaves nothing running behind.
 */
export async function loadGeneration(
  cfg: Config,
  db: Database,
  opts: LoadGenerationOptions,
): Promise<Generation> {
  const models = await modelRefs(cfg);
  const { store, shared, changesSeq } = await loadFeatureStore(db, { liveEvents: cfg.serving.liveEvents });
  opts.log?.({
    msg: 'feature store loaded',
    generation: opts.id,
    users: store.dims.users,
    posts: store.dims.posts,
    likes: store.dims.likes,
    mb: Math.round(storeBytes(shared) / 1e6),
  });
  const follower = new FeedFollower({
    db,
    store,
    fromSeq: changesSeq,
    intervalMs: cfg.serving.followMs,
    logger: opts.logger ?? silentLogger,
    observer: opts.observer,
  });
  // Rows logged since the snapshot (an experiment before a restart) count from the first answer.
  await follower.catchUp();
  opts.log?.({
    msg: 'live rows since the snapshot applied',
    generation: opts.id,
    seq: follower.appliedSeq,
    ...liveStats(store),
  });
  const catalog = new Map<number, PostInfo>();
  for (const p of await db.query<{ post_id: number; text: string | null; topic: string | null }>(
    'select post_id, text, topic from post_text_df',
  ))
    catalog.set(p.post_id, { id: p.post_id, text: p.text ?? '', topic: p.topic ?? '' });
  const pool = await RankerPool.start({
    shared,
    models,
    workers: cfg.serving.workers,
    intraOpThreads: cfg.serving.intraOpThreads,
    allowSpinning: cfg.serving.allowSpinning,
    candidates: cfg.serving.candidates,
    rankAll: cfg.serving.rankAll,
    maxBatchRequests: cfg.serving.maxBatchRequests,
    maxBatchDelayMs: cfg.serving.maxBatchDelayMs,
    admission: cfg.serving.admission,
    queueLimit: cfg.serving.queueLimit,
    queueTargetMs: cfg.serving.queueTargetMs,
    tasksPerWorker: cfg.serving.tasksPerWorker,
    observer: opts.observer,
    logger: opts.logger,
    faultInjection: opts.faultInjection,
  });
  opts.log?.({
    msg: 'models loaded',
    generation: opts.id,
    workers: pool.threads,
    models: pool.warmup.models,
  });
  // Polling starts only once nothing else can fail: a refused generation leaves nothing running.
  follower.start();
  return { id: opts.id, store, shared, catalog, pool, follower, models, loadedAt: new Date() };
}
