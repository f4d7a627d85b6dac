import path from 'node:path';
import { DiskSpool, ExposureLogger } from '../ab/index.js';
import { ensureData } from '../cli/bootstrap.js';
import { databaseOptions } from '../cli/common.js';
import type { Config } from '../config/index.js';
import { openDatabase, retryWhileUnreachable, type Database } from '../db/index.js';
import { createApp, Metrics, startServer, type FeedrecApp, type RunningServer } from '../http/index.js';
import { appendFeedRows } from '../live/index.js';
import { createJsonLogger, type Logger } from '../log/index.js';
import type { RankerPool } from '../ranking/pool.js';
import { closeGeneration, loadGeneration, modelRefs, type Generation } from './generation.js';
import { LoadingService } from './loading.js';
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
  exposures: ExposureLogger;
  metrics: Metrics;
  logger: Logger;
  startupMs: number;
  /** Closes everything (what SIGTERM does after the HTTP drain). */
  close(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  metrics?: Metrics;
  /** Aborts the build between steps (shutdown while loading). */
  signal?: AbortSignal;
  /** Injected in tests: the wait between attempts to reach Postgres at start. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** runService: told once the server listens, before the service is loaded. */
  onListening?: (running: RunningServer) => void;
  /** Tests only: ranking pools obey RankerPool.injectFault; no config or flag sets it. */
  faultInjection?: boolean;
}

/**
 * Opens the database and loads the first generation from it. While Postgres cannot be reached
 * (not started yet, restarting) it retries with backoff for cfg.db.startRetryMs, saying each time
 * which host and port did not answer.
 */
function openAndLoad(
  cfg: Config,
  logger: Logger,
  metrics: Metrics,
  opts: ServiceOptions,
): Promise<{ db: Database; first: Generation }> {
  return retryWhileUnreachable(
    async () => {
      const db = await openDatabase({
        ...databaseOptions(cfg),
        onConnectionError: (err) =>
          logger.warn({ msg: 'Postgres connection lost; serving continues from memory', err }),
      });
      try {
        await ensureData(db, cfg, (msg) => logger.info({ msg }));
        opts.signal?.throwIfAborted();
        const first = await loadGeneration(cfg, db, {
          id: 1,
          observer: metrics,
          log: (fields) => logger.info(fields),
          logger,
          faultInjection: opts.faultInjection,
        });
        return { db, first };
      } catch (err) {
        await db.close().catch(() => undefined);
        throw err;
      }
    },
    {
      forMs: cfg.db.startRetryMs,
      signal: opts.signal,
      sleep: opts.sleep,
      onRetry: (err, attempt, delayMs) =>
        logger.warn({ msg: 'database unavailable at start, retrying', attempt, retryInMs: delayMs, err }),
    },
  );
}

/**
 * Everything `feedrec serve` does before it is ready: data, features into shared memory, models
 * into the workers. The service is ready only when all of it is done.
 */
export async function buildService(cfg: Config, opts: ServiceOptions = {}): Promise<Service> {
  const started = performance.now();
  const logger = opts.logger ?? createJsonLogger(cfg.logLevel);
  const metrics = opts.metrics ?? new Metrics();
  // Fail on a missing model before touching the database (or building a world into it).
  await modelRefs(cfg);
  const { db, first } = await openAndLoad(cfg, logger, metrics, opts);
  try {
    // From here on the pool's threads would keep the process alive if start-up failed.
    opts.signal?.throwIfAborted();
    const load = (id: number) =>
      loadGeneration(cfg, db, {
        id,
        observer: metrics,
        log: (fields) => logger.info(fields),
        logger,
        faultInjection: opts.faultInjection,
      });
    const recommender = new PoolRecommender(first);
    const reloader = new Reloader({ recommender, load, logger, observer: metrics });
    const exposures = new ExposureLogger({
      db,
      flushMs: cfg.serving.exposureFlushMs,
      batchSize: cfg.serving.exposureBatch,
      writeTimeoutMs: cfg.serving.exposureWriteTimeoutMs,
      spool: new DiskSpool(
        cfg.serving.spoolDir ?? path.join(cfg.dataDir, 'exposure-spool'),
        cfg.serving.spoolMaxMb * 1024 * 1024,
      ),
      logger,
      observer: metrics,
    });
    const app = createApp({
      config: cfg,
      recommender,
      exposures,
      feedLog: { append: (rows) => appendFeedRows(db, rows) },
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
      exposures,
      metrics,
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
    await closeGeneration(first).catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

/**
 * `feedrec serve`: listen first (so a taken port is reported at once, before anything is opened
 * or built, and health checks answer while a big snapshot loads), then build, then ready; drain
 * on SIGTERM, reload on SIGHUP. Resolves once ready; rejects when the build fails (the server is
 * closed again) unless shutdown began meanwhile.
 */
export async function runService(cfg: Config, opts: ServiceOptions = {}): Promise<RunningServer> {
  const started = performance.now();
  const logger = opts.logger ?? createJsonLogger(cfg.logLevel);
  const metrics = opts.metrics ?? new Metrics();
  const slot = new LoadingService();
  const app = createApp({
    config: cfg,
    recommender: slot,
    exposures: slot.exposures,
    // Rows go to the loaded service's database (503 while it loads).
    feedLog: { append: (rows) => appendFeedRows(slot.loaded.db, rows) },
    metrics,
    logger,
    admin: { reload: (reason) => slot.loaded.reloader.reload(reason) },
  });
  // Node's default for SIGHUP is to exit: until the service can reload, a SIGHUP is ignored.
  const onHangup = () => {
    slot.service?.reloader.reload('SIGHUP').catch(() => undefined); // refusals are logged and counted
  };
  process.on('SIGHUP', onHangup);
  const running = await startServer(app, cfg, {
    onClosed: async () => {
      process.off('SIGHUP', onHangup);
      await slot.closeDatabase();
    },
  }).catch((err: unknown) => {
    process.off('SIGHUP', onHangup);
    throw err;
  });
  opts.onListening?.(running);
  try {
    await slot.load(buildService(cfg, { ...opts, logger, metrics, signal: slot.signal }));
  } catch (err) {
    if (slot.signal.aborted) return running;
    logger.error({ msg: 'start-up failed', err });
    await running.close();
    throw err;
  }
  if (slot.service) {
    const startupMs = Math.round(performance.now() - started);
    logger.info({ msg: 'ready', port: running.port, startupMs, mode: cfg.mode });
  }
  return running;
}
