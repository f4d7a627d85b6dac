import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExposureLogger, type Exposure } from '../../src/ab/index.js';
import type { Database, DbSession } from '../../src/db/index.js';
import { createMemoryLogger, silentLogger } from '../../src/log/index.js';
import { dbVariants } from '../helpers/db.js';

const exposure = (i: number): Exposure => ({
  loggedAt: new Date(Date.UTC(2026, 0, 1, 12, 0, 0, i)),
  requestId: `req-${i}`,
  userId: 1000 + i,
  group: i % 2 ? 'test' : 'control',
  modelVersion: 'model-v1',
  postIds: [i, i + 1, i + 2],
  requestTime: new Date(Date.UTC(2021, 11, 1, 10, 0, 0)),
});

/** Counts INSERTs and can be told to fail the next n of them, like a database that blips. */
function flakyDb(db: DbSession) {
  const state = { inserts: 0, failNext: 0, batchSizes: [] as number[] };
  const session: Pick<DbSession, 'query'> = {
    async query<R>(text: string, params?: unknown[]) {
      if (text.startsWith('INSERT INTO exposures')) {
        state.inserts += 1;
        if (state.failNext > 0) {
          state.failNext -= 1;
          throw new Error('connection reset (simulated)');
        }
        state.batchSizes.push((params![1] as unknown[]).length);
      }
      return db.query<R>(text, params);
    },
  };
  return { session, state };
}

describe.each(dbVariants)('exposure logging ($name)', (variant) => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    if (variant.skip) return;
    ({ db, drop } = await variant.fresh());
  });
  afterEach(async () => {
    await drop?.();
  });

  const rows = () =>
    db.query<{
      request_id: string;
      user_id: number;
      exp_group: string;
      post_ids: number[];
      logged_at: Date;
      request_time: Date;
      model_version: string;
    }>('SELECT * FROM exposures ORDER BY id');

  it.skipIf(variant.skip)('writes exposures in batches of at most exposureBatch rows', async () => {
    const { session, state } = flakyDb(db);
    const log = new ExposureLogger({ db: session, flushMs: 60_000, batchSize: 10, logger: silentLogger });
    for (let i = 0; i < 9; i++) log.log(exposure(i));
    // Below a full batch nothing is written before the (long) timer.
    await new Promise((r) => setImmediate(r));
    expect(state.inserts).toBe(0);
    for (let i = 9; i < 25; i++) log.log(exposure(i));
    // The tenth row started a flush; flush() writes everything buffered by then, batch by batch.
    await log.flush();
    expect(state.batchSizes).toEqual([10, 10, 5]);
    expect(log.getStats()).toMatchObject({ buffered: 0, written: 25 });
    await log.close();
    expect(state.batchSizes).toEqual([10, 10, 5]);
    const got = await rows();
    expect(got.map((r) => r.request_id)).toEqual(Array.from({ length: 25 }, (_, i) => `req-${i}`));
    expect(got[3]).toMatchObject({
      user_id: 1003,
      exp_group: 'test',
      post_ids: [3, 4, 5],
      model_version: 'model-v1',
    });
    expect(got[3]!.request_time.toISOString()).toBe('2021-12-01T10:00:00.000Z');
    expect(got[3]!.logged_at.toISOString()).toBe('2026-01-01T12:00:00.003Z');
  });

  it.skipIf(variant.skip)('flushes on its timer without reaching a full batch', async () => {
    const log = new ExposureLogger({ db, flushMs: 20, batchSize: 1000, logger: silentLogger });
    log.log(exposure(1));
    await expect.poll(async () => (await rows()).length, { timeout: 2000 }).toBe(1);
    await log.close();
  });

  it.skipIf(variant.skip)('loses none on close', async () => {
    const log = new ExposureLogger({ db, flushMs: 60_000, batchSize: 64, logger: silentLogger });
    for (let i = 0; i < 1000; i++) log.log(exposure(i));
    expect(await log.close()).toBe(0);
    expect((await rows()).length).toBe(1000);
    expect(log.getStats()).toMatchObject({ buffered: 0, written: 1000, dropped: 0 });
  });

  it.skipIf(variant.skip)('retries when the database briefly fails', async () => {
    const { session, state } = flakyDb(db);
    const logger = createMemoryLogger();
    const log = new ExposureLogger({ db: session, flushMs: 20, batchSize: 5, logger });
    state.failNext = 3;
    for (let i = 0; i < 12; i++) log.log(exposure(i));
    await expect.poll(async () => (await rows()).length, { timeout: 3000 }).toBe(12);
    expect(log.getStats()).toMatchObject({ failedFlushes: 3, dropped: 0, buffered: 0 });
    expect(logger.entries.filter((e) => e.msg === 'exposure flush failed, will retry')).toHaveLength(3);
    // Order is kept through the retries.
    expect((await rows()).map((r) => r.request_id)).toEqual(Array.from({ length: 12 }, (_, i) => `req-${i}`));
    await log.close();
  });

  it.skipIf(variant.skip)('does not hammer a failing database with a retry per logged row', async () => {
    const { session, state } = flakyDb(db);
    const log = new ExposureLogger({ db: session, flushMs: 60_000, batchSize: 2, logger: silentLogger });
    state.failNext = 1;
    log.log(exposure(0));
    log.log(exposure(1)); // full batch: flush, which fails
    await log.flush();
    for (let i = 2; i < 50; i++) log.log(exposure(i));
    await new Promise((r) => setTimeout(r, 50));
    expect(state.inserts).toBe(1); // the next attempt waits for the retry timer
    expect(await log.close()).toBe(0);
    expect((await rows()).length).toBe(50);
  });

  it.skipIf(variant.skip)('close() retries through a failure instead of losing rows', async () => {
    const { session, state } = flakyDb(db);
    const log = new ExposureLogger({ db: session, flushMs: 60_000, batchSize: 100, logger: silentLogger });
    for (let i = 0; i < 7; i++) log.log(exposure(i));
    state.failNext = 2;
    expect(await log.close()).toBe(0);
    expect((await rows()).length).toBe(7);
  });
});

describe('exposure buffer bound', () => {
  it('drops the oldest rows past the cap, counted and logged, while the database is down', async () => {
    const down: Pick<DbSession, 'query'> = {
      query: () => Promise.reject(new Error('database down (simulated)')),
    };
    const logger = createMemoryLogger();
    let droppedSeen = 0;
    const log = new ExposureLogger({
      db: down,
      flushMs: 60_000,
      batchSize: 1000,
      maxBuffered: 50,
      logger,
      onDrop: (n) => (droppedSeen += n),
    });
    for (let i = 0; i < 60; i++) log.log(exposure(i));
    expect(log.getStats()).toMatchObject({ buffered: 50, dropped: 10 });
    expect(droppedSeen).toBe(10);
    expect(
      logger.entries.some(
        (e) => e.level === 'error' && e.msg === 'exposure buffer full, oldest rows dropped',
      ),
    ).toBe(true);
    expect(await log.close(100)).toBe(50);
  });
});
