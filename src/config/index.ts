import path from 'node:path';
export { projectRoot } from './paths.js';
import { z } from 'zod';
import { BUCKETS } from '../ab/bucket.js';
import { ConfigError } from '../errors/index.js';
import { ADMISSION_POLICIES } from '../ranking/admission.js';

const intFromEnv = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

/**
 * The whole configuration, parsed once at start-up from the environment and CLI flags.
 * Nothing else reads process.env: the typed object is passed down (and to workers via workerData).
 */
export const configSchema = z.object({
  /** PGlite folder used when no DATABASE_URL is set. */
  dataDir: z.string().min(1).default('./data'),
  /** Postgres connection string; when set, PGlite is not used. */
  databaseUrl: z.string().url().optional(),
  modelsDir: z.string().min(1).default('./models'),
  port: intFromEnv(8000, 0, 65535),
  host: z.string().default('0.0.0.0'),
  mode: z.enum(['ab', 'control', 'test']).default('ab'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  ab: z
    .object({
      salt: z.string().min(1).default('feedrec-ab-v1'),
      /**
       * Share of the 10,000 buckets that go to the test group: a whole number of buckets, because
       * a share between two buckets would round half up in TypeScript and half to even in the
       * Python twin (0.12345 → 1,235 vs 1,234 buckets), and the twins must assign alike.
       */
      testShare: z.coerce
        .number()
        .min(0)
        .max(1)
        .superRefine((share, ctx) => {
          const buckets = share * BUCKETS;
          if (Math.abs(buckets - Math.round(buckets)) > 1e-6)
            ctx.addIssue({
              code: 'custom',
              message:
                `${share} is ${Math.round(buckets * 1e6) / 1e6} of the ${BUCKETS} buckets; use a whole ` +
                `number of buckets (a multiple of ${1 / BUCKETS}, e.g. ${Math.round(buckets) / BUCKETS})`,
            });
        })
        .default(0.5),
      /** The model that serves the test group: `control` makes an A/A test (both groups alike). */
      testModel: z.enum(['control', 'test']).default('test'),
    })
    .prefault({}),
  /** Postgres only (PGlite is in-process and needs none of these). */
  db: z
    .object({
      /** Connecting, or waiting for a pooled connection, fails after this. */
      connectTimeoutMs: intFromEnv(10_000, 100, 600_000),
      /**
       * Server-side statement_timeout for every statement of every command. Two hours: no single
       * statement of the full-scale jobs comes near it (the whole feature build takes about 5 min,
       * the full world's COPY 2 min), yet a statement stuck on a lock does not hang forever.
       */
      statementTimeoutMs: intFromEnv(7_200_000, 1_000, 86_400_000),
      /** `feedrec serve` keeps retrying an unreachable Postgres at start for this long (0: once). */
      startRetryMs: intFromEnv(300_000, 0, 86_400_000),
    })
    .prefault({}),
  /** Token that unlocks the X-Exp-Group QA override; no token means no override is accepted. */
  qaToken: z.string().min(8).optional(),
  /** Bearer token of the admin routes (POST /admin/reload); no token means they answer 404. */
  adminToken: z.string().min(16).optional(),
  /**
   * Token that unlocks POST /feed_data (appending to the log). Without one, only the embedded
   * database's service accepts it, and only from this machine (loopback).
   */
  ingestToken: z.string().min(8).optional(),
  serving: z
    .object({
      // Measured at demo scale with 150 candidates (bench/results/serve-demo*.md): two workers of
      // one onnxruntime thread each gave the most throughput (2,217 vs 1,823 req/s for 1 × 2 threads
      // and 1,683 for 1 × 1 at 64 connections) at the same latency; spinning stays off.
      workers: intFromEnv(2, 1, 64),
      intraOpThreads: intFromEnv(1, 1, 64),
      maxBatchRequests: intFromEnv(16, 1, 1024),
      /**
       * 0 = adaptive: a request goes to an idle worker at once, and requests gather into one
       * batch only while every worker is busy. Above 0, batches also wait for company.
       */
      maxBatchDelayMs: z.coerce.number().min(0).max(1000).default(0),
      /** onnxruntime's idle intra-op threads spin by default, taking the cores HTTP needs. */
      allowSpinning: z
        .preprocess(
          (v) => (typeof v === 'string' ? ['1', 'true', 'yes'].includes(v.toLowerCase()) : v),
          z.boolean(),
        )
        .default(false),
      // 150 gave the same Hitrate as 300 on a tuning seed (7) at half the ranking cost.
      candidates: intFromEnv(150, 5, 100_000),
      rankAll: z
        .preprocess(
          (v) => (typeof v === 'string' ? ['1', 'true', 'yes'].includes(v.toLowerCase()) : v),
          z.boolean(),
        )
        .default(false),
      queueLimit: intFromEnv(256, 1, 1_000_000),
      /** Admission policy of the ranking queue (src/ranking/admission.ts; bench/results/overload.md). */
      // queue-time on the workers' measured service time had the most model-ranked answers at
      // 256 and 1,024 connections and 3x open loop in both comparison runs on the shared machine
      // (bench/results/overload.md, overload-run1.md).
      admission: z.enum(ADMISSION_POLICIES).default('queue-time'),
      /**
       * queue-time: longest predicted time to the result admitted; aimd: latency target. Below
       * deadlineMs by what this thread adds (reading, answering, its own event-loop delays).
       */
      queueTargetMs: intFromEnv(150, 1, 60_000),
      /**
       * A refused connection is not read again until the queue has room, at most this long (the
       * Retry-After, 1 s; src/http/shed-hold.ts); 0 = no holds.
       */
      shedHoldMs: intFromEnv(1_000, 0, 60_000),
      /**
       * Which refused connections are held: every one (refusal; its next request waits unread) or
       * only one refused again within Retry-After (repeat). "refusal" cut the refusals at 3x
       * capacity open loop by 18-43 %, and the workers got the CPU they cost (shed-hold.ts).
       */
      shedHoldOn: z.enum(['refusal', 'repeat']).default('refusal'),
      /**
       * Batches handed to each worker at once. With 2 a worker always holds the next batch: it
       * does not wait for this thread (busy refusing requests under overload) to send one.
       */
      tasksPerWorker: intFromEnv(2, 1, 16),
      deadlineMs: intFromEnv(250, 1, 60_000),
      exposureFlushMs: intFromEnv(500, 10, 60_000),
      exposureBatch: intFromEnv(500, 1, 100_000),
      /** An exposure write that has not answered by then is spooled (replay is idempotent). */
      exposureWriteTimeoutMs: intFromEnv(5_000, 10, 600_000),
      /**
       * Folder where exposures wait while Postgres is away (default <dataDir>/exposure-spool);
       * one per replica, on local disk, kept across restarts (the next start replays it).
       */
      spoolDir: z.string().min(1).optional(),
      /**
       * Bound of the spool folder. At about 280 bytes per five-post exposure, 512 MB hold
       * 1.9 million answers: 16 minutes at 2,000 answers/s, 1.8 hours at 300/s.
       */
      spoolMaxMb: intFromEnv(512, 1, 1_000_000),
      /**
       * Feed rows logged after the feature snapshot that the store holds (13 bytes each): about
       * 180,000 simulated visits of five views. Past it new rows wait for the next snapshot.
       */
      liveEvents: intFromEnv(1_000_000, 0, 200_000_000),
      /** Pause between polls of feed_changes when nothing new came: the bulk of the freshness. */
      followMs: intFromEnv(200, 10, 60_000),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigOverrides = Partial<Omit<Config, 'ab' | 'serving' | 'db'>> & {
  ab?: Partial<Config['ab']>;
  db?: Partial<Config['db']>;
  serving?: Partial<Config['serving']>;
};

type Env = Record<string, string | undefined>;

function fromEnv(env: Env): Record<string, unknown> {
  const pick = (k: string) => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  return {
    dataDir: pick('FEEDREC_DATA_DIR'),
    databaseUrl: pick('DATABASE_URL'),
    modelsDir: pick('FEEDREC_MODELS_DIR'),
    port: pick('PORT'),
    host: pick('HOST'),
    mode: pick('FEEDREC_MODE'),
    logLevel: pick('LOG_LEVEL'),
    qaToken: pick('FEEDREC_QA_TOKEN'),
    adminToken: pick('FEEDREC_ADMIN_TOKEN'),
    ingestToken: pick('FEEDREC_INGEST_TOKEN'),
    ab: {
      salt: pick('FEEDREC_AB_SALT'),
      testShare: pick('FEEDREC_AB_TEST_SHARE'),
      testModel: pick('FEEDREC_AB_TEST_MODEL'),
    },
    db: {
      connectTimeoutMs: pick('FEEDREC_PG_CONNECT_TIMEOUT_MS'),
      statementTimeoutMs: pick('FEEDREC_PG_STATEMENT_TIMEOUT_MS'),
      startRetryMs: pick('FEEDREC_PG_START_RETRY_MS'),
    },
    serving: {
      workers: pick('FEEDREC_WORKERS'),
      intraOpThreads: pick('FEEDREC_INTRA_OP_THREADS'),
      maxBatchRequests: pick('FEEDREC_MAX_BATCH_REQUESTS'),
      maxBatchDelayMs: pick('FEEDREC_MAX_BATCH_DELAY_MS'),
      allowSpinning: pick('FEEDREC_ALLOW_SPINNING'),
      candidates: pick('FEEDREC_CANDIDATES'),
      rankAll: pick('FEEDREC_RANK_ALL'),
      queueLimit: pick('FEEDREC_QUEUE_LIMIT'),
      admission: pick('FEEDREC_ADMISSION'),
      queueTargetMs: pick('FEEDREC_QUEUE_TARGET_MS'),
      shedHoldMs: pick('FEEDREC_SHED_HOLD_MS'),
      shedHoldOn: pick('FEEDREC_SHED_HOLD_ON'),
      tasksPerWorker: pick('FEEDREC_TASKS_PER_WORKER'),
      deadlineMs: pick('FEEDREC_DEADLINE_MS'),
      exposureFlushMs: pick('FEEDREC_EXPOSURE_FLUSH_MS'),
      exposureBatch: pick('FEEDREC_EXPOSURE_BATCH'),
      exposureWriteTimeoutMs: pick('FEEDREC_EXPOSURE_WRITE_TIMEOUT_MS'),
      spoolDir: pick('FEEDREC_SPOOL_DIR'),
      spoolMaxMb: pick('FEEDREC_SPOOL_MAX_MB'),
      liveEvents: pick('FEEDREC_LIVE_EVENTS'),
      followMs: pick('FEEDREC_FOLLOW_MS'),
    },
  };
}

function dropUndefined(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const cleaned = dropUndefined(v);
    if (cleaned !== undefined) out[k] = cleaned;
  }
  return out;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object'
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Parses environment + overrides (CLI flags win) into a Config, or throws ConfigError naming each bad key. */
export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): Config {
  const raw = merge(
    dropUndefined(fromEnv(env)) as Record<string, unknown>,
    dropUndefined(overrides) as Record<string, unknown>,
  );
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${detail}`);
  }
  const cfg = parsed.data;
  const dataDir = path.resolve(cfg.dataDir);
  return {
    ...cfg,
    dataDir,
    modelsDir: path.resolve(cfg.modelsDir),
    serving: {
      ...cfg.serving,
      spoolDir: path.resolve(cfg.serving.spoolDir ?? path.join(dataDir, 'exposure-spool')),
    },
  };
}
