import type { Config } from '../config/index.js';
import type { Database } from '../db/index.js';
import { MissingDataError } from '../errors/index.js';
import { buildFeatures, FEATURE_VERSION } from '../features/index.js';
import { writeWorld } from '../world/index.js';

/** The world a newcomer gets when the embedded database is empty. */
export const DEMO_SPEC = { scale: 'demo', seed: 1 } as const;

/**
 * Makes sure the database has data and up-to-date feature tables. An empty embedded database
 * (no DATABASE_URL) gets the demo world, so `npm start` on a fresh clone just works; an empty
 * Postgres is never filled implicitly, since it is somebody's real database.
 */
export async function ensureData(db: Database, cfg: Config, log: (msg: string) => void): Promise<void> {
  const { n } = (
    await db.query<{ n: string }>(`select count(*) n from (select 1 from feed_data limit 1) x`)
  )[0]!;
  if (Number(n) === 0) {
    if (cfg.databaseUrl)
      throw new MissingDataError(
        `feed_data is empty in ${db.where}: load data with \`feedrec import\` or \`feedrec world\` first`,
      );
    log(
      `empty embedded database in ${cfg.dataDir}: building the ${DEMO_SPEC.scale} world (seed ${DEMO_SPEC.seed})`,
    );
    await writeWorld(db, DEMO_SPEC, { progress: process.stderr.isTTY });
  }
  const meta = await db.query<{ version: number }>(
    `select (value->>'version')::int version from feature_meta where key = 'meta'`,
  );
  if (meta[0]?.version !== FEATURE_VERSION) {
    log('building feature tables');
    await buildFeatures(db, log);
  }
}
