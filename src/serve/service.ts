import { ExposureLogger } from '../ab/index.js';
import { ensureData } from '../cli/bootstrap.js';
import type { Config } from '../config/index.js';
import { openDatabase, type Database } from '../db/index.js';
import { createApp, Metrics, startServer, type FeedrecApp, type RunningServer } from '../http/index.js';
import { createJsonLogger, type Logger } from '../log/index.js';
import type { RankerPool } from '../ranking/pool.js';
import { loadGeneration, modelRefs, type Generation } from './generation.js';
import { PoolRecommender } from './recommender.js';
import { Reloader } from './reload.js';

export { modelRefs };

export interface Service {
  app: FeedrecApp;
  db: Database;
  /** The serving generation's pool (a reload replaces it). */
  readonly pool: RankerPool;
  recommender: PoolRecommender;
  reloader: Reloader;
  logger: Logger;
  startupMs: number;
  /** Closes everything (what SIGTERM does after the HTTP drain). */
  close(): Promise<void>;
}

/**
 * Everything `feedrec serve` does before listening: data, features into shared memory, models
 * into the workers. The service is ready only when all of it is done.
 */
export async function buildService(cfg: Config, logger = createJsonLogger(cfg.logLevel)): Promise<Service> {
  const started = performance.now();
  // Fail on a missing model before touching the database (or building a world into it).
  await modelRefs(cfg);
  const db = await openDatabase({
    dataDir: cfg.dataDir,
    databaseUrl: cfg.databaseUrl,
    onConnectionError: (err) =>
      logger.warn({ msg: 'Postgres connection lost; serving continues from memory', err }),
  });
  let first: Generation | undefined;
  try {
    await ensureData(db, cfg, (msg) => logger.info({ msg }));
    const metrics = new Metrics();
    const load = (id: number) =>
      loadGeneration(cfg, db, { id, observer: metrics, log: (fields) => logger.info(fields) });
    first = await load(1);
    // From here on the pool's threads would keep the process alive if start-up failed.
    const recommender = new PoolRecommender(first);
    const reloader = new Reloader({ recommender, load, logger, observer: metrics });
    const exposures = new ExposureLogger({
      db,
      flushMs: cfg.serving.exposureFlushMs,
      batchSize: cfg.serving.exposureBatch,
      logger,
      onDrop: (n) => metrics.exposuresDropped.inc(n),
    });
    const app = createApp({
      config: cfg,
      recommender,
      exposures,
      metrics,
      logger,
      admin: { reload: (reason) => reloader.reload(reason) },
    });
    const startupMs = performance.now() - started;
    return {
      app,
      db,
      get pool() {
        return recommender.current.pool;
      },
      recommender,
      reloader,
      logger,
      startupMs,
      async close() {
        await exposures.close();
        // A reload in progress finishes (or fails) first, so no generation is left running.
        await reloader.settled();
        await recommender.close();
        await db.close();
      },
    };
  } catch (err) {
    await first?.pool.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** `feedrec serve`: build, listen, drain on SIGTERM, reload on SIGHUP. */
export async function runService(cfg: Config): Promise<RunningServer> {
  // Node's default for SIGHUP is to exit: until the service can reload, a SIGHUP is ignored.
  const early = () => undefined;
  process.on('SIGHUP', early);
  const svc = await buildService(cfg).finally(() => process.off('SIGHUP', early));
  process.on('SIGHUP', () => {
    svc.reloader.reload('SIGHUP').catch(() => undefined); // refusals are logged and counted
  });
  const running = await startServer(svc.app, cfg, { onClosed: () => svc.db.close() });
  svc.logger.info({ msg: 'ready', port: running.port, startupMs: Math.round(svc.startupMs), mode: cfg.mode });
  return running;
}
