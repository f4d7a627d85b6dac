import type { Config } from '../config/index.js';
import type { Database } from '../db/index.js';
import { ModelError } from '../errors/index.js';
import { loadFeatureStore, storeBytes, type FeatureStore, type SharedStore } from '../features/index.js';
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
  readonly models: ModelRef[];
  readonly loadedAt: Date;
}

export const groupsOf = (mode: Config['mode']): Group[] => (mode === 'ab' ? ['control', 'test'] : [mode]);

/** `<name>/<version folder>` of each model, as answers and exposures name them. */
export const modelLabels = (models: readonly ModelRef[]): string[] =>
  models.map((m) => `${m.name}/${m.version}`);

/** The models the mode needs, latest version of each; a clear ModelError when one is missing. */
export async function modelRefs(cfg: Config): Promise<ModelRef[]> {
  const found = await findModels(cfg.modelsDir);
  return groupsOf(cfg.mode).map((name) => {
    const loc = found.get(name);
    if (!loc)
      throw new ModelError(
        `mode ${cfg.mode} needs a ${name} model, but ${cfg.modelsDir}/${name}/ has no version: run \`npm run train\``,
      );
    return { name, version: loc.version, dir: loc.dir };
  });
}

export interface LoadGenerationOptions {
  id: number;
  observer?: PoolObserver;
  log?: (fields: Record<string, unknown>) => void;
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
  const { store, shared } = await loadFeatureStore(db);
  opts.log?.({
    msg: 'feature store loaded',
    generation: opts.id,
    users: store.dims.users,
    posts: store.dims.posts,
    likes: store.dims.likes,
    mb: Math.round(storeBytes(shared) / 1e6),
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
  });
  opts.log?.({
    msg: 'models loaded',
    generation: opts.id,
    workers: pool.threads,
    models: pool.warmup.models,
  });
  return { id: opts.id, store, shared, catalog, pool, models, loadedAt: new Date() };
}
