import { ExposureLogger } from '../ab/index.js';
import { ensureData } from '../cli/bootstrap.js';
import type { Config } from '../config/index.js';
import { openDatabase, type Database } from '../db/index.js';
import { ModelError } from '../errors/index.js';
import { loadFeatureStore, storeBytes } from '../features/index.js';
import {
  createApp,
  Metrics,
  startServer,
  type FeedrecApp,
  type PostInfo,
  type RunningServer,
} from '../http/index.js';
import { createJsonLogger, type Logger } from '../log/index.js';
import { findModels } from '../ranking/onnx-model.js';
import { RankerPool } from '../ranking/pool.js';
import type { Group, ModelRef } from '../ranking/protocol.js';
import { PoolRecommender } from './recommender.js';

export interface Service {
  app: FeedrecApp;
  db: Database;
  pool: RankerPool;
  logger: Logger;
  startupMs: number;
  /** Closes everything (what SIGTERM does after the HTTP drain). */
  close(): Promise<void>;
}

const groupsOf = (mode: Config['mode']): Group[] => (mode === 'ab' ? ['control', 'test'] : [mode]);

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

/**
 * Everything `feedrec serve` does before listening: data, features into shared memory, models
 * into the workers. The service is ready only when all of it is done.
 */
export async function buildService(cfg: Config, logger = createJsonLogger(cfg.logLevel)): Promise<Service> {
  const started = performance.now();
  const log = (msg: string) => logger.info({ msg });
  const refs = await modelRefs(cfg);
  const db = await openDatabase({
    dataDir: cfg.dataDir,
    databaseUrl: cfg.databaseUrl,
    onConnectionError: (err) =>
      logger.warn({ msg: 'Postgres connection lost; serving continues from memory', err }),
  });
  const pools: RankerPool[] = [];
  try {
    await ensureData(db, cfg, log);
    const { store, shared } = await loadFeatureStore(db);
    logger.info({
      msg: 'feature store loaded',
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
    const metrics = new Metrics();
    const pool = await RankerPool.start({
      shared,
      models: refs,
      workers: cfg.serving.workers,
      intraOpThreads: cfg.serving.intraOpThreads,
      allowSpinning: cfg.serving.allowSpinning,
      candidates: cfg.serving.candidates,
      rankAll: cfg.serving.rankAll,
      maxBatchRequests: cfg.serving.maxBatchRequests,
      maxBatchDelayMs: cfg.serving.maxBatchDelayMs,
      observer: metrics,
    });
    logger.info({ msg: 'models loaded', workers: pool.threads, models: pool.warmup.models });
    // From here on the pool's threads would keep the process alive if start-up failed.
    pools.push(pool);
    const recommender = new PoolRecommender(store, catalog, pool);
    const exposures = new ExposureLogger({
      db,
      flushMs: cfg.serving.exposureFlushMs,
      batchSize: cfg.serving.exposureBatch,
      logger,
      onDrop: (n) => metrics.exposuresDropped.inc(n),
    });
    const app = createApp({ config: cfg, recommender, exposures, metrics, logger });
    const startupMs = performance.now() - started;
    return {
      app,
      db,
      pool,
      logger,
      startupMs,
      async close() {
        await exposures.close();
        await recommender.close();
        await db.close();
      },
    };
  } catch (err) {
    for (const p of pools) await p.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** `feedrec serve`: build, listen, drain on SIGTERM. */
export async function runService(cfg: Config): Promise<RunningServer> {
  const svc = await buildService(cfg);
  const running = await startServer(svc.app, cfg, { onClosed: () => svc.db.close() });
  svc.logger.info({ msg: 'ready', port: running.port, startupMs: Math.round(svc.startupMs), mode: cfg.mode });
  return running;
}
