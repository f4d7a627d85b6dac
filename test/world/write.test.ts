import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { FeedrecError } from '../../src/errors/index.js';
import {
  createWorld,
  readWorldSpec,
  regeneratedLikes,
  writeWorld,
  type World,
} from '../../src/world/index.js';
import { feedStats } from '../../src/world/stats.js';
import { createWorldModel } from '../../src/world/world.js';
import { dbVariants } from '../helpers/db.js';

async function dumpHash(db: Database): Promise<string> {
  const h = createHash('sha256');
  for (const select of [
    'select * from user_data order by user_id',
    'select * from post_text_df order by post_id',
    'select * from feed_data order by user_id, timestamp, action, post_id, target',
  ])
    for await (const chunk of db.copyOut(select)) h.update(chunk);
  return h.digest('hex');
}

/** The likes the checker regenerates from the world's spec are exactly the logged ones. */
async function expectRegeneratedLikes(db: Database, world: World, ui: number): Promise<void> {
  const rows = await db.query<{ post_id: number; ms: string }>(
    `select post_id, (extract(epoch from timestamp) * 1000)::bigint::text ms from feed_data
     where user_id = $1 and action = 'like' order by timestamp, post_id`,
    [world.users[ui]!.userId],
  );
  const regen = regeneratedLikes(world, ui).sort((a, b) => a.tMs - b.tMs || a.postId - b.postId);
  expect(regen).toEqual(rows.map((r) => ({ postId: r.post_id, tMs: Number(r.ms) })));
}

describe.each(dbVariants)('writing a world into $name', (variant) => {
  let db: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    if (variant.skip) return;
    ({ db, drop } = await variant.fresh());
  });
  afterAll(async () => drop?.());

  it.skipIf(variant.skip)(
    'writes exactly the in-memory world and records the spec for the checker',
    async () => {
      const stats = await writeWorld(db, { seed: 3, scale: 'tiny' });
      const mem = feedStats(createWorldModel({ seed: 3, scale: 'tiny' }));
      expect(stats.feedRows).toBe(mem.rows);
      const [c] = await db.query<{
        users: number;
        posts: number;
        views: number;
        likes: number;
        liked: number;
      }>(
        `select (select count(*)::int from user_data) users, (select count(*)::int from post_text_df) posts,
              (select count(*)::int from feed_data where action = 'view') views,
              (select count(*)::int from feed_data where action = 'like') likes,
              (select count(*)::int from feed_data where action = 'view' and target = 1) liked`,
      );
      expect(c).toEqual({ users: 300, posts: 703, views: mem.views, likes: mem.likes, liked: mem.likes });
      const [t] = await db.query<{ lo: string; hi: string; h0: number; bad: number }>(
        `select min(timestamp)::text lo, max(timestamp)::text hi, min(extract(hour from timestamp))::int h0,
              (select count(*)::int from feed_data where action = 'like' and target <> 0) bad from feed_data`,
      );
      expect(t!.lo >= '2021-10-01 06:01:00').toBe(true);
      expect(t!.hi <= '2021-12-29 23:51:00').toBe(true);
      expect(t!.h0).toBeGreaterThanOrEqual(6);
      expect(t!.bad).toBe(0);
      const idx = await db.query(`select 1 from pg_indexes where indexname = 'feed_data_user_time_idx'`);
      expect(idx).toHaveLength(1);
      expect(await readWorldSpec(db)).toEqual({ seed: 3, scale: 'tiny' });
    },
  );

  it.skipIf(variant.skip)("regenerates any user's likes from the seed exactly as written", async () => {
    const world = createWorld({ seed: 3, scale: 'tiny' });
    for (const ui of [0, 150, 299]) await expectRegeneratedLikes(db, world, ui);
  });

  it.skipIf(variant.skip)('refuses to write into non-empty tables without force', async () => {
    await expect(writeWorld(db, { seed: 4, scale: 'tiny' })).rejects.toThrow(FeedrecError);
    await expect(writeWorld(db, { seed: 4, scale: 'tiny' })).rejects.toThrow(/--force/);
    expect(await readWorldSpec(db)).toEqual({ seed: 3, scale: 'tiny' });
  });

  it.skipIf(variant.skip)('refuses a world whose recorded parameters differ from the code', async () => {
    await db.exec(`update checker.world_info set params = jsonb_set(params, '{params,base}', '0')`);
    await expect(readWorldSpec(db)).rejects.toThrow(/regenerate/);
    await writeWorld(db, { seed: 3, scale: 'tiny' }, { force: true });
    expect(await readWorldSpec(db)).toEqual({ seed: 3, scale: 'tiny' });
  });

  it.skipIf(variant.skip)(
    'gives byte-identical tables for the same seed and different ones for another',
    async () => {
      const first = await dumpHash(db);
      await writeWorld(db, { seed: 3, scale: 'tiny' }, { force: true });
      expect(await dumpHash(db)).toBe(first);
      await writeWorld(db, { seed: 4, scale: 'tiny' }, { force: true });
      expect(await dumpHash(db)).not.toBe(first);
      expect(await readWorldSpec(db)).toEqual({ seed: 4, scale: 'tiny' });
    },
  );

  it.skipIf(variant.skip)(
    'records a taste world for the checker, which regenerates its likes from the spec',
    async () => {
      const spec = { seed: 3, scale: 'tiny', exposure: 'taste' } as const;
      const stats = await writeWorld(db, spec, { force: true });
      expect(stats.spec).toEqual(spec);
      expect(await readWorldSpec(db)).toEqual(spec);
      const world = createWorld((await readWorldSpec(db))!);
      for (const ui of [42, 250]) await expectRegeneratedLikes(db, world, ui);
      // Another exposure in the record than the code has is refused like other parameters.
      await db.exec(
        `update checker.world_info set params = jsonb_set(params, '{exposure,tasteWeight}', '9')`,
      );
      await expect(readWorldSpec(db)).rejects.toThrow(/exposure this code does not have/);
    },
  );
});
