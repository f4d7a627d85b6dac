import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureData } from '../../src/cli/bootstrap.js';
import { loadConfig } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { importTables } from '../../src/import/index.js';
import { writeWorld } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';

const metaRows = async (db: Database) =>
  Number((await db.query<{ n: string }>('select count(*) n from feature_meta'))[0]!.n);

describe('feature tables after new data', () => {
  let db: Database;
  let dataDir: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ db, dataDir, drop } = await dbVariants[0]!.fresh());
    await writeWorld(db, { scale: 'tiny', seed: 1 });
    await buildFeatures(db);
  });
  afterAll(async () => drop?.());

  it('are marked stale when a world replaces the data, and rebuilt before use', async () => {
    expect(await metaRows(db)).toBeGreaterThan(0);
    await writeWorld(db, { scale: 'tiny', seed: 2 }, { force: true });
    expect(await metaRows(db)).toBe(0);
    await ensureData(db, loadConfig({}, { dataDir }), () => {});
    expect(await metaRows(db)).toBeGreaterThan(0);
  });

  it('are marked stale by an import', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-csv-'));
    try {
      const file = path.join(dir, 'feed.csv');
      const user = (await db.query<{ user_id: number }>('select min(user_id) user_id from user_data'))[0]!
        .user_id;
      const post = (await db.query<{ post_id: number }>('select min(post_id) post_id from post_text_df'))[0]!
        .post_id;
      writeFileSync(
        file,
        `timestamp,user_id,post_id,action,target\n2021-12-29 20:00:00,${user},${post},view,0\n`,
      );
      await importTables(db, { feed: file });
      expect(await metaRows(db)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
