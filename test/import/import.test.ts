import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { ImportRowError, ValidationError } from '../../src/errors/index.js';
import { importTables } from '../../src/import/index.js';
import { dbVariants } from '../helpers/db.js';
import {
  FEED_COLUMNS,
  POST_COLUMNS,
  USER_COLUMNS,
  csvField,
  feed,
  posts,
  snapshot,
  tempDir,
  toCsv,
  users,
} from './fixtures.js';

async function* once(text: string) {
  yield text;
}

const tmp = tempDir();
afterAll(() => tmp.remove());

// Rows that are in the database before each test, so that "unchanged" means more than "empty".
const before = {
  users: '100,0,40,Russia,Moscow,1,iOS,organic\n',
  posts: '50,"an older post, with a comma",tech\n',
  feed: '2021-11-15 12:00:00,100,50,view,0\n',
};

const goodFiles = () => ({
  users: tmp.write('users.csv', toCsv(USER_COLUMNS, users, { index: true })),
  posts: tmp.write('posts.csv', toCsv(POST_COLUMNS, posts, { index: true })),
  feed: tmp.write('feed.csv', toCsv(FEED_COLUMNS, feed, { index: true })),
});

describe.each(dbVariants)('import on $name', (variant) => {
  let db: Database;
  let drop: (() => Promise<void>) | undefined;

  // Hooks of an all-skipped suite never run, so the notice is printed while collecting.
  if (variant.skip)
    console.warn(`[feedrec tests] import on ${variant.name}: SKIPPED (TEST_DATABASE_URL is not set)`);

  beforeAll(async () => {
    if (variant.skip) return;
    ({ db, drop } = await variant.fresh());
  });
  afterAll(async () => drop?.());

  beforeEach(async () => {
    if (variant.skip) return;
    await db.exec('TRUNCATE user_data, post_text_df, feed_data');
    await db.copyIn('user_data', USER_COLUMNS, once(before.users));
    await db.copyIn('post_text_df', POST_COLUMNS, once(before.posts));
    await db.copyIn('feed_data', FEED_COLUMNS, once(before.feed));
  });

  /** The import must fail with a row error naming all four facts, and change nothing. */
  async function expectRejected(
    files: Parameters<typeof importTables>[1],
    where: { file: string; line: number; column: string; value: string },
    opts: Parameters<typeof importTables>[2] = {},
  ) {
    const unchanged = await snapshot(db);
    const err = await importTables(db, files, opts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImportRowError);
    const message = (err as Error).message;
    expect(message).toContain(path.basename(where.file));
    expect(message).toContain(`:${where.line}:`);
    expect(message).toContain(`"${where.column}"`);
    expect(message).toContain(where.value);
    expect(err).toMatchObject({ line: where.line, column: where.column, value: where.value });
    expect(await snapshot(db)).toEqual(unchanged);
  }

  it.skipIf(variant.skip)('loads the three files so that every value round-trips exactly', async () => {
    const result = await importTables(db, goodFiles());
    expect(result.tables.map((t) => [t.table, t.rows])).toEqual([
      ['user_data', 3],
      ['post_text_df', 3],
      ['feed_data', 3],
    ]);
    const gotUsers = await db.query(`select * from user_data where user_id <> 100 order by user_id`);
    expect(gotUsers).toEqual(users);
    const gotPosts = await db.query(`select * from post_text_df where post_id <> 50 order by post_id`);
    expect(gotPosts).toEqual(posts);
    const gotFeed = await db.query(
      `select to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS') as timestamp, user_id, post_id, action, target
       from feed_data where user_id <> 100 order by 1, action desc`,
    );
    expect(gotFeed).toEqual(feed);
  });

  it.skipIf(variant.skip)('stores ISO and fractional timestamps as UTC', async () => {
    const file = tmp.write(
      'feed-iso.csv',
      toCsv(FEED_COLUMNS, [
        '2021-10-01T06:01:40,200,1,view,0',
        '2021-10-01T06:01:40.250,200,2,view,0',
        '2021-10-01T09:01:40+03:00,200,3,view,0',
      ]),
    );
    await importTables(db, { feed: file });
    const got = await db.query<{ ts: string }>(
      `select to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS.MS') as ts from feed_data where user_id = 200 order by post_id`,
    );
    expect(got.map((r) => r.ts)).toEqual([
      '2021-10-01 06:01:40.000',
      '2021-10-01 06:01:40.250',
      '2021-10-01 06:01:40.000',
    ]);
  });

  it.skipIf(variant.skip)('rejects a bad timestamp and leaves the tables unchanged', async () => {
    const file = tmp.write(
      'feed-bad-ts.csv',
      toCsv(FEED_COLUMNS, [...feed, '2021-10-01 25:01:40,200,1,view,1'], { index: false }),
    );
    await expectRejected(
      { feed: file },
      { file, line: 5, column: 'timestamp', value: '2021-10-01 25:01:40' },
    );
  });

  it.skipIf(variant.skip)('rejects an unknown action and leaves the tables unchanged', async () => {
    const file = tmp.write(
      'feed-bad-action.csv',
      toCsv(FEED_COLUMNS, [feed[0]!, feed[1]!, { ...feed[2]!, action: 'share' }]),
    );
    await expectRejected({ feed: file }, { file, line: 4, column: 'action', value: 'share' });
  });

  it.skipIf(variant.skip)('rejects a non-integer id and leaves the tables unchanged', async () => {
    const rows = users.map((u) => USER_COLUMNS.map((c) => csvField(u[c as keyof typeof u])).join(','));
    rows[1] = rows[1]!.replace(/^201,/, '201.5,');
    const file = tmp.write('users-bad-id.csv', toCsv(USER_COLUMNS, rows));
    await expectRejected({ users: file }, { file, line: 3, column: 'user_id', value: '201.5' });
  });

  it.skipIf(variant.skip)('leaves the tables unchanged when the third file has a bad row', async () => {
    const { users: u, posts: p } = goodFiles();
    // Many good rows first and small chunks, so the bad row comes after several COPY chunks went in.
    const many = Array.from({ length: 20_000 }, (_, i) => ({ ...feed[0]!, post_id: 1 + (i % 7319) }));
    const f = tmp.write('feed-bad-late.csv', toCsv(FEED_COLUMNS, [...many, { ...feed[0]!, user_id: 'abc' }]));
    let chunks = 0;
    await expectRejected(
      { users: u, posts: p, feed: f },
      { file: f, line: 20_002, column: 'user_id', value: 'abc' },
      { chunkChars: 64 * 1024, onProgress: (pr) => void (pr.table === 'feed_data' && chunks++) },
    );
    expect(chunks).toBeGreaterThan(5);
  });

  it.skipIf(variant.skip)('rejects a user id that the table already has, naming its line', async () => {
    const file = tmp.write('users-dup.csv', toCsv(USER_COLUMNS, [...users, { ...users[0]!, user_id: 100 }]));
    await expectRejected({ users: file }, { file, line: 5, column: 'user_id', value: '100' });
  });

  it.skipIf(variant.skip)('replaces the loaded tables in the same transaction with --replace', async () => {
    await importTables(db, goodFiles(), { replace: true });
    const ids = await db.query<{ user_id: number }>(`select user_id from user_data order by 1`);
    expect(ids.map((r) => r.user_id)).toEqual(users.map((u) => u.user_id));
    const feedRows = await db.query(`select 1 from feed_data`);
    expect(feedRows).toHaveLength(feed.length);
  });

  it.skipIf(variant.skip)('undoes --replace when a later row is bad', async () => {
    const file = tmp.write(
      'feed-bad-replace.csv',
      toCsv(FEED_COLUMNS, [feed[0]!, { ...feed[1]!, target: 'yes' }]),
    );
    await expectRejected(
      { users: goodFiles().users, feed: file },
      { file, line: 3, column: 'target', value: 'yes' },
      { replace: true },
    );
  });

  it.skipIf(variant.skip)('rebuilds the feed index after loading into an empty table', async () => {
    await db.exec('TRUNCATE feed_data');
    await importTables(db, { feed: goodFiles().feed });
    const idx = await db.query<{ indexname: string }>(
      `select indexname from pg_indexes where tablename = 'feed_data'`,
    );
    expect(idx.map((r) => r.indexname)).toEqual(['feed_data_user_time_idx']);
  });

  it.skipIf(variant.skip)('refuses a missing file before touching the database', async () => {
    const unchanged = await snapshot(db);
    await expect(
      importTables(db, { users: goodFiles().users, feed: path.join(tmp.dir, 'nope.csv') }),
    ).rejects.toThrow(ValidationError);
    await expect(importTables(db, {})).rejects.toThrow(/at least one of --users, --posts, --feed/);
    expect(await snapshot(db)).toEqual(unchanged);
  });
});
