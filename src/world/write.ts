import cliProgress from 'cli-progress';
import type { Database, DbSession } from '../db/index.js';
import { FeedrecError, MissingDataError } from '../errors/index.js';
import { GENERATOR_VERSION, SCALE_SIZES, SCALES, type Scale, type WorldSpec } from './constants.js';
import {
  FEED_COLUMNS,
  feedCsv,
  POST_COLUMNS,
  postsCsv,
  USER_COLUMNS,
  usersCsv,
  type FeedProgress,
} from './csv.js';
import { PARAMS } from './params.js';
import { TASTE_EXPOSURE } from './exposure.js';
import { createWorldModel, normalSpec } from './world.js';
import { invalidateFeatures } from '../features/index.js';

export interface WorldWriteOptions {
  /** Show a progress bar on stderr. */
  progress?: boolean;
  /** Truncate the three tables (and the world record) first instead of refusing non-empty ones. */
  force?: boolean;
}

export interface WorldWriteStats {
  spec: WorldSpec;
  users: number;
  posts: number;
  feedRows: number;
  views: number;
  likes: number;
  /** Wall time of each phase and in total, in milliseconds. */
  ms: { create: number; users: number; posts: number; feed: number; index: number; total: number };
}

const TABLES = ['user_data', 'post_text_df', 'feed_data'] as const;
const INDEX = 'feed_data_user_time_idx';

async function* toAsync(chunks: Iterable<string>): AsyncGenerator<string> {
  for (const c of chunks) {
    yield c;
    // Let the event loop breathe between chunks (progress bar, stream backpressure).
    await new Promise<void>((r) => setImmediate(r));
  }
}

async function assertEmpty(db: DbSession, where: string): Promise<void> {
  const full: string[] = [];
  for (const t of TABLES) {
    const rows = await db.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from ${t} limit 1) x`,
    );
    if ((rows[0]?.n ?? 0) > 0) full.push(t);
  }
  if (full.length)
    throw new FeedrecError(
      `${where} already has data in ${full.join(', ')}; refusing to mix two worlds (use --force to replace it)`,
    );
}

/**
 * Generates the world of `spec` and writes its three tables with COPY, streaming the feed log
 * user by user. Runs in one transaction: a failure leaves the database as it was.
 */
export async function writeWorld(
  db: Database,
  spec: WorldSpec,
  opts: WorldWriteOptions = {},
): Promise<WorldWriteStats> {
  const t0 = performance.now();
  const world = createWorldModel(spec);
  const ms = { create: performance.now() - t0, users: 0, posts: 0, feed: 0, index: 0, total: 0 };
  let last: FeedProgress = { users: 0, rows: 0, views: 0, likes: 0 };
  const bar = opts.progress
    ? new cliProgress.SingleBar(
        {
          format:
            'world {scale} [{bar}] {percentage}% | {value}/{total} users | {rows} feed rows | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 200,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;

  await db.transaction(async (tx) => {
    if (opts.force) {
      await tx.exec(`TRUNCATE ${TABLES.join(', ')}; DELETE FROM checker.world_info;`);
    } else {
      await assertEmpty(tx, db.where);
    }
    await invalidateFeatures(tx);
    // Building the index once at the end is several times faster than maintaining it per row.
    await tx.exec(`DROP INDEX IF EXISTS ${INDEX}`);
    let t = performance.now();
    await tx.copyIn('user_data', USER_COLUMNS, toAsync(usersCsv(world)));
    ms.users = performance.now() - t;
    t = performance.now();
    await tx.copyIn('post_text_df', POST_COLUMNS, toAsync(postsCsv(world)));
    ms.posts = performance.now() - t;
    t = performance.now();
    bar?.start(world.users.length, 0, { scale: spec.scale, rows: 0 });
    let shown = 0;
    const onUser = (p: FeedProgress) => {
      last = p;
      if (bar && (p.users - shown >= 500 || p.users === world.users.length)) {
        shown = p.users;
        bar.update(p.users, { rows: p.rows.toLocaleString('en-US') });
      }
    };
    await tx.copyIn('feed_data', FEED_COLUMNS, toAsync(feedCsv(world, onUser)));
    bar?.stop();
    ms.feed = performance.now() - t;
    t = performance.now();
    // A bigger sort budget keeps the index build in memory (PGlite's heap is WASM-bounded).
    await tx.exec(`SET LOCAL maintenance_work_mem = '${db.kind === 'pglite' ? '256MB' : '1GB'}'`);
    await tx.exec(`CREATE INDEX ${INDEX} ON feed_data USING btree (user_id, "timestamp")`);
    ms.index = performance.now() - t;
    await tx.query(
      `insert into checker.world_info (id, seed, scale, generator_version, params) values (1, $1, $2, $3, $4)`,
      [
        spec.seed,
        spec.scale,
        GENERATOR_VERSION,
        JSON.stringify({
          sizes: SCALE_SIZES[spec.scale],
          params: PARAMS,
          // A random-feed world keeps the record it always had; a taste world adds its exposure.
          ...(spec.exposure === 'taste' ? { exposure: { mode: 'taste', ...TASTE_EXPOSURE } } : {}),
        }),
      ],
    );
  });
  // Fresh statistics so the first queries on the new tables get sensible plans.
  await db.exec(`ANALYZE user_data; ANALYZE post_text_df; ANALYZE feed_data;`);
  ms.total = performance.now() - t0;
  return {
    spec: normalSpec(spec),
    users: world.users.length,
    posts: world.posts.length,
    feedRows: last.rows,
    views: last.views,
    likes: last.likes,
    ms,
  };
}

/**
 * The seed and scale the tables were generated from, or null when they were not generated
 * (imported real data, empty database). Only the checker may call this: the service must not
 * know the ground truth.
 */
export async function readWorldSpec(db: DbSession): Promise<WorldSpec | null> {
  const rows = await db.query<{
    seed: string | number;
    scale: string;
    generator_version: number;
    params: { params?: unknown } | string;
  }>('select seed, scale, generator_version, params from checker.world_info where id = 1');
  const r = rows[0];
  if (!r) return null;
  if (!SCALES.includes(r.scale as Scale))
    throw new MissingDataError(`checker.world_info has an unknown scale ${JSON.stringify(r.scale)}`);
  if (r.generator_version !== GENERATOR_VERSION)
    throw new MissingDataError(
      `the world was generated by generator version ${r.generator_version}, this code is version ` +
        `${GENERATOR_VERSION}: its ground truth differs; regenerate with \`feedrec world --force\``,
    );
  const stored = (typeof r.params === 'string' ? JSON.parse(r.params) : r.params) as {
    params?: unknown;
    exposure?: { mode?: unknown };
  };
  // The parameters are checked too, so a world written by other code with the same version
  // number cannot silently give the checker a different ground truth.
  if (canonical(stored.params) !== canonical(PARAMS))
    throw new MissingDataError(
      'the world was generated with other ground-truth parameters than this code has; ' +
        'regenerate with `feedrec world --force`',
    );
  const spec: WorldSpec = { seed: Number(r.seed), scale: r.scale as Scale };
  if (stored.exposure === undefined) return spec;
  if (canonical(stored.exposure) !== canonical({ mode: 'taste', ...TASTE_EXPOSURE }))
    throw new MissingDataError(
      `the world was generated with an exposure this code does not have (${JSON.stringify(stored.exposure)}); ` +
        'regenerate with `feedrec world --force`',
    );
  return { ...spec, exposure: 'taste' };
}

/** JSON with sorted keys (jsonb does not keep key order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
