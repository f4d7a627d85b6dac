import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { DatabaseUnavailableError } from '../../src/errors/index.js';
import { openDatabase } from '../../src/db/index.js';
import { dbVariants } from '../helpers/db.js';

async function* chunks(...parts: string[]) {
  yield* parts;
}

describe.each(dbVariants)('database on $name', (variant) => {
  let db: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    if (variant.skip) return;
    ({ db, drop } = await variant.fresh());
  });
  afterAll(async () => drop?.());

  it.skipIf(variant.skip)(
    'applies migrations that create the three real tables with their columns',
    async () => {
      const cols = await db.query<{ table_name: string; column_name: string; data_type: string }>(
        `select table_name, column_name, data_type from information_schema.columns
       where table_schema = 'public' and table_name in ('user_data','post_text_df','feed_data')
       order by table_name, ordinal_position`,
      );
      const byTable = (t: string) =>
        cols.filter((c) => c.table_name === t).map((c) => `${c.column_name}:${c.data_type}`);
      expect(byTable('user_data')).toEqual([
        'user_id:integer',
        'gender:integer',
        'age:integer',
        'country:text',
        'city:text',
        'exp_group:integer',
        'os:text',
        'source:text',
      ]);
      expect(byTable('post_text_df')).toEqual(['post_id:integer', 'text:text', 'topic:text']);
      expect(byTable('feed_data')).toEqual([
        'timestamp:timestamp without time zone',
        'user_id:integer',
        'post_id:integer',
        'action:text',
        'target:smallint',
      ]);
    },
  );

  it.skipIf(variant.skip)('bulk-loads CSV chunks and streams them back out', async () => {
    await db.copyIn(
      'post_text_df',
      ['post_id', 'text', 'topic'],
      chunks('1,"hello, world",movie\n', '7,plain,covid\n'),
    );
    const rows = await db.query<{ post_id: number; text: string }>(
      'select post_id, text from post_text_df order by 1',
    );
    expect(rows).toEqual([
      { post_id: 1, text: 'hello, world' },
      { post_id: 7, text: 'plain' },
    ]);
    let out = '';
    for await (const c of db.copyOut('select post_id, topic from post_text_df order by 1')) out += c;
    expect(out).toBe('1,movie\n7,covid\n');
  });

  it.skipIf(variant.skip)('rolls a failed transaction back, bulk loads included', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.copyIn('post_text_df', ['post_id', 'text', 'topic'], chunks('100,x,tech\n'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const rows = await db.query('select * from post_text_df where post_id = 100');
    expect(rows).toHaveLength(0);
  });
});

describe('database that is down', () => {
  it('fails with a DatabaseUnavailableError naming where it tried, without the password', async () => {
    const err = await openDatabase({
      dataDir: '/nonexistent',
      databaseUrl: 'postgres://u:secret@127.0.0.1:1/none',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(String((err as Error).message)).toContain('127.0.0.1:1');
    expect(String((err as Error).message)).not.toContain('secret');
  });
});
