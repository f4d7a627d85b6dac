import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExposureLogger, MemorySpool } from '../../src/ab/index.js';
import type { Database, DbSession } from '../../src/db/index.js';
import { createMemoryLogger, silentLogger } from '../../src/log/index.js';
import { dbVariants } from '../helpers/db.js';
import { connectionLost, exposure, exposureRows, flakyDb } from './exposure-fixtures.js';

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

  const rows = () => exposureRows(db);

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

  it.skipIf(variant.skip)(
    'spools batches while the database fails and replays them in order once it is back',
    async () => {
      const { session, state } = flakyDb(db);
      const logger = createMemoryLogger();
      const log = new ExposureLogger({ db: session, flushMs: 20, batchSize: 5, replayMinMs: 20, logger });
      state.failNext = 3;
      for (let i = 0; i < 12; i++) log.log(exposure(i));
      await expect.poll(async () => (await rows()).length, { timeout: 3000 }).toBe(12);
      // The first write failed; two replays failed; the third wrote the spool, oldest first.
      expect(state.inserts).toBeLessThanOrEqual(3 + 3 + 1);
      expect(log.getStats()).toMatchObject({
        failedWrites: 3,
        spooled: 12,
        replayed: 12,
        dropped: 0,
        inSpool: 0,
      });
      expect(
        logger.entries.filter((e) => e.msg?.toString().startsWith('exposures cannot reach')),
      ).toHaveLength(1);
      expect(
        logger.entries.filter((e) => e.msg?.toString().startsWith('exposure spool replayed')),
      ).toHaveLength(1);
      expect((await rows()).map((r) => r.request_id)).toEqual(
        Array.from({ length: 12 }, (_, i) => `req-${i}`),
      );
      await log.close();
    },
  );

  it.skipIf(variant.skip)(
    'does not try the failing database for each new batch while it spools',
    async () => {
      const { session, state } = flakyDb(db);
      const log = new ExposureLogger({
        db: session,
        flushMs: 60_000,
        batchSize: 2,
        replayMinMs: 60_000,
        logger: silentLogger,
      });
      state.failNext = 1;
      log.log(exposure(0));
      log.log(exposure(1)); // full batch: flush, which fails
      await log.flush();
      for (let i = 2; i < 50; i++) log.log(exposure(i));
      await log.flush();
      expect(state.inserts).toBe(1); // the rest went to the spool; the replay timer has not fired
      expect(log.getStats()).toMatchObject({ spooled: 50, inSpool: 50 });
      expect(await log.close()).toBe(0);
      expect((await rows()).length).toBe(50);
    },
  );

  it.skipIf(variant.skip)('close() replays through a failure instead of losing rows', async () => {
    const { session, state } = flakyDb(db);
    const log = new ExposureLogger({ db: session, flushMs: 60_000, batchSize: 100, logger: silentLogger });
    for (let i = 0; i < 7; i++) log.log(exposure(i));
    state.failNext = 2;
    expect(await log.close()).toBe(0);
    expect((await rows()).length).toBe(7);
  });

  it.skipIf(variant.skip)('writes each exposure once when a committed batch is written again', async () => {
    // The reply to a committed INSERT is lost: the logger cannot know, spools the batch and
    // replays it; the idempotency key makes the second write insert nothing.
    const { session, state } = flakyDb(db);
    const log = new ExposureLogger({
      db: session,
      flushMs: 20,
      batchSize: 4,
      replayMinMs: 20,
      logger: silentLogger,
    });
    state.loseReplyNext = 1;
    for (let i = 0; i < 10; i++) log.log(exposure(i));
    await expect.poll(() => log.getStats().replayed, { timeout: 3000 }).toBeGreaterThanOrEqual(4);
    await log.close();
    const got = (await rows()).map((r) => r.request_id).sort();
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `req-${i}`).sort());
    expect(state.batchSizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(10); // written twice, stored once
    expect(log.getStats()).toMatchObject({ quarantined: 0, dropped: 0 });
  });

  it.skipIf(variant.skip)(
    'quarantines a row the database refuses, writes the others and moves on',
    async () => {
      const spool = new MemorySpool(1 << 20);
      const logger = createMemoryLogger();
      const quarantined: number[] = [];
      const log = new ExposureLogger({
        db,
        flushMs: 60_000,
        batchSize: 10,
        spool,
        logger,
        observer: {
          exposuresSpooled: () => undefined,
          exposuresReplayed: () => undefined,
          exposuresQuarantined: (n) => quarantined.push(n),
          exposuresDroppedFor: () => undefined,
          spoolState: () => undefined,
        },
      });
      // user_id is an int column: 2^31 is out of its range, a row Postgres refuses every time.
      for (let i = 0; i < 10; i++) log.log(i === 6 ? { ...exposure(i), userId: 2 ** 31 } : exposure(i));
      await log.flush();
      for (let i = 10; i < 15; i++) log.log(exposure(i));
      expect(await log.close()).toBe(0);
      const written = (await rows()).map((r) => r.request_id);
      expect(written).toHaveLength(14);
      expect(written).not.toContain('req-6');
      expect(written).toContain('req-14'); // what came after was not blocked
      expect(quarantined).toEqual([1]);
      expect(spool.rejected.map((r) => r.row.requestId)).toEqual(['req-6']);
      expect(spool.rejected[0]!.reason).toMatch(/out of range/);
      expect(log.getStats()).toMatchObject({ quarantined: 1, written: 14, inSpool: 0 });
      const line = logger.entries.find((e) =>
        e.msg?.toString().startsWith('exposure refused by the database'),
      );
      expect(line).toMatchObject({ level: 'error', requestIds: ['req-6'] });
    },
  );

  it.skipIf(variant.skip)('writes an exposure logged after close instead of dropping it unsaid', async () => {
    const log = new ExposureLogger({ db, flushMs: 60_000, batchSize: 100, logger: silentLogger });
    log.log(exposure(1));
    expect(await log.close()).toBe(0);
    log.log(exposure(2)); // e.g. an answer that outlived a drain timeout
    await expect
      .poll(async () => (await rows()).map((r) => r.request_id), { timeout: 2000 })
      .toEqual(['req-1', 'req-2']);
  });
});

describe('exposure buffer bound', () => {
  it('drops the oldest rows past the memory cap, counted and logged, when the spool cannot take them', async () => {
    const down: Pick<DbSession, 'query'> = { query: () => Promise.reject(connectionLost()) };
    const logger = createMemoryLogger();
    const dropped: [string, number][] = [];
    const log = new ExposureLogger({
      db: down,
      flushMs: 60_000,
      batchSize: 1000,
      maxBuffered: 50,
      logger,
      observer: {
        exposuresSpooled: () => undefined,
        exposuresReplayed: () => undefined,
        exposuresQuarantined: () => undefined,
        exposuresDroppedFor: (reason, n) => dropped.push([reason, n]),
        spoolState: () => undefined,
      },
    });
    for (let i = 0; i < 60; i++) log.log(exposure(i));
    expect(log.getStats()).toMatchObject({ buffered: 50, dropped: 10 });
    expect(dropped.reduce((s, [, n]) => s + n, 0)).toBe(10);
    expect(dropped.every(([r]) => r === 'memory_full')).toBe(true);
    expect(
      logger.entries.some(
        (e) => e.level === 'error' && e.msg === 'exposure buffer full, oldest rows dropped',
      ),
    ).toBe(true);
    // The memory spool does not outlive the process: what it holds at close is reported lost.
    expect(await log.close(100)).toBe(50);
  });
});
