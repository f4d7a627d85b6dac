import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskSpool, ExposureLogger } from '../../src/ab/index.js';
import type { Database, DbSession } from '../../src/db/index.js';
import { Metrics } from '../../src/http/index.js';
import { createMemoryLogger, silentLogger } from '../../src/log/index.js';
import { dbVariants } from '../helpers/db.js';
import { metricValue } from '../http/setup.js';
import { exposure, exposureRows, flakyDb } from './exposure-fixtures.js';

const pglite = dbVariants[0]!;

describe('the exposure spool on disk', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let dir: string;
  beforeEach(async () => {
    ({ db, drop } = await pglite.fresh());
    dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-spool-'));
  });
  afterEach(async () => {
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const downLogger = (spool: DiskSpool, extra: { observer?: Metrics } = {}) => {
    const { session, state } = flakyDb(db);
    state.down = true;
    const logger = createMemoryLogger();
    const log = new ExposureLogger({
      db: session,
      flushMs: 60_000,
      batchSize: 5,
      replayMinMs: 60_000,
      spool,
      logger,
      ...extra,
    });
    return { log, state, logger };
  };

  it('keeps what it spooled across a restart, and the next start writes each row once', async () => {
    const { log } = downLogger(new DiskSpool(dir, 1 << 20));
    for (let i = 0; i < 12; i++) log.log(exposure(i));
    // Nothing is lost at close: the rows wait on disk.
    expect(await log.close()).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toHaveLength(3);
    expect((await exposureRows(db)).length).toBe(0);

    const reopened = new DiskSpool(dir, 1 << 20);
    expect(reopened.rows).toBe(12);
    const next = new ExposureLogger({
      db,
      flushMs: 60_000,
      batchSize: 5,
      spool: reopened,
      logger: silentLogger,
    });
    await expect.poll(() => reopened.rows, { timeout: 3000 }).toBe(0);
    await next.close();
    expect((await exposureRows(db)).map((r) => r.request_id)).toEqual(
      Array.from({ length: 12 }, (_, i) => `req-${i}`),
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('when full, drops new exposures, says so once in the log and in metrics, and recovers after the replay', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    // Room for two segments of five fixture rows (about 250 bytes each).
    const spool = new DiskSpool(dir, 2_600);
    const { log, state, logger } = downLogger(spool, { observer: metrics });
    for (let i = 0; i < 30; i++) log.log(exposure(i));
    await log.flush();
    expect(spool.rows).toBe(10);
    expect(spool.bytes).toBeLessThanOrEqual(2_600);
    expect(log.getStats()).toMatchObject({ spooled: 10, dropped: 20 });
    expect(await metricValue(metrics, 'feedrec_exposures_dropped_total', { reason: 'spool_full' })).toBe(20);
    expect(await metricValue(metrics, 'feedrec_exposure_spool_full')).toBe(1);
    expect(await metricValue(metrics, 'feedrec_exposure_spool_rows')).toBe(10);
    const full = logger.entries.filter((e) => e.msg?.toString().startsWith('exposure spool full'));
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ level: 'error', maxBytes: 2_600, spool: dir });

    state.down = false;
    expect(await log.close()).toBe(0);
    expect((await exposureRows(db)).length).toBe(10);
    expect(await metricValue(metrics, 'feedrec_exposure_spool_full')).toBe(0);
    expect(await metricValue(metrics, 'feedrec_exposures_replayed_total')).toBe(10);
  });

  it('spools an exposure logged after close for the next start', async () => {
    const log = new ExposureLogger({
      db,
      flushMs: 60_000,
      batchSize: 100,
      spool: new DiskSpool(dir, 1 << 20),
      logger: silentLogger,
    });
    log.log(exposure(1));
    await log.close();
    await db.close(); // the process is on its way out
    log.log(exposure(2));
    const reopened = new DiskSpool(dir, 1 << 20);
    expect(reopened.rows).toBe(1);
    expect((await reopened.oldest())!.rows.map((r) => r.requestId)).toEqual(['req-2']);
  });

  it('spools a write that does not answer within the write timeout (a partition)', async () => {
    let hang = true;
    const session: Pick<DbSession, 'query'> = {
      query: <R>(text: string, params?: unknown[]) =>
        hang && text.startsWith('INSERT') ? new Promise<R[]>(() => undefined) : db.query<R>(text, params),
    };
    const spool = new DiskSpool(dir, 1 << 20);
    const log = new ExposureLogger({
      db: session,
      flushMs: 60_000,
      batchSize: 3,
      writeTimeoutMs: 50,
      replayMinMs: 60_000,
      spool,
      logger: silentLogger,
    });
    for (let i = 0; i < 3; i++) log.log(exposure(i));
    await log.flush();
    expect(spool.rows).toBe(3);
    hang = false;
    await log.close();
    expect((await exposureRows(db)).length).toBe(3);
  });
});
