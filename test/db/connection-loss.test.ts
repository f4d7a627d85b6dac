import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { dbVariants, postgresWith } from '../helpers/db.js';

const postgres = dbVariants.find((v) => v.name === 'postgres')!;

/** Ends every server connection to the database but the caller's, as a restart would. */
async function killConnections(url: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const res = await admin.query<{ n: string }>(
      `select count(pg_terminate_backend(pid))::text as n from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()`,
    );
    return Number(res.rows[0]!.n);
  } finally {
    await admin.end();
  }
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

// An unheard 'error' event from node-postgres ends the process; vitest reports it as an
// unhandled error and fails the run, so each case below fails on code without the listeners.
describe.skipIf(postgres.skip)('a Postgres connection killed by the server', () => {
  let base: Awaited<ReturnType<typeof postgresWith>>;
  let db: Database;
  const heard: Error[] = [];

  beforeAll(async () => {
    base = await postgresWith({ onConnectionError: (err) => heard.push(err) });
    db = base.db;
  });
  afterAll(async () => base?.drop());

  it('is reported, replaced, and the next query works when the connection was idle in the pool', async () => {
    await Promise.all([db.query('select pg_sleep(0.05)'), db.query('select pg_sleep(0.05)')]);
    heard.length = 0;
    const killed = await killConnections(base.url!);
    expect(killed).toBeGreaterThanOrEqual(2);
    await until(() => heard.length >= killed);
    expect(heard.length).toBe(killed);
    expect(heard[0]!.message).toMatch(/terminat/i);
    expect(await db.query<{ one: number }>('select 1 as one')).toEqual([{ one: 1 }]);
  });

  it('answers a query sent the moment after the server ended every pooled connection', async () => {
    await Promise.all([1, 2, 3, 4].map(() => db.query('select pg_sleep(0.05)')));
    heard.length = 0;
    expect(await killConnections(base.url!)).toBeGreaterThanOrEqual(2);
    // No wait for the termination notices: the pool may still hold the dead connections.
    const answers = await Promise.all([1, 2, 3, 4].map((i) => db.query<{ i: number }>(`select ${i} as i`)));
    expect(answers.map((r) => r[0]!.i)).toEqual([1, 2, 3, 4]);
  });

  it('rejects the transaction but does not end the process when the connection was checked out', async () => {
    heard.length = 0;
    const tx = db.transaction(async (t) => {
      await t.query('select 1');
      await killConnections(base.url!);
      await until(() => heard.length >= 1);
      await t.query('select 1');
    });
    await expect(tx).rejects.toThrow();
    expect(heard.length).toBeGreaterThanOrEqual(1);
    expect(await db.query<{ one: number }>('select 1 as one')).toEqual([{ one: 1 }]);
  });
});
