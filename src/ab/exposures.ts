import { randomUUID } from 'node:crypto';
import type { DbSession } from '../db/index.js';
import { isConnectionError } from '../db/errors.js';
import type { Logger } from '../log/index.js';
import type { ExpGroup } from './bucket.js';
import { MemorySpool, type KeyedExposure, type Spool } from './spool.js';

/** One answer shown to a user in A/B mode: a row of the `exposures` table. */
export interface Exposure {
  loggedAt: Date;
  requestId: string;
  userId: number;
  group: ExpGroup;
  modelVersion: string;
  postIds: number[];
  /** The `time` the request asked about (the simulated "now"), not the wall clock. */
  requestTime: Date;
}

export type DropReason = 'spool_full' | 'memory_full' | 'spool_error' | 'after_close';

/** What the logger reports (the HTTP Metrics object satisfies it). */
export interface ExposureObserver {
  exposuresSpooled(rows: number): void;
  exposuresReplayed(rows: number): void;
  exposuresQuarantined(rows: number): void;
  exposuresDroppedFor(reason: DropReason, rows: number): void;
  spoolState(state: { rows: number; bytes: number; full: boolean }): void;
}

export interface ExposureLoggerOptions {
  db: Pick<DbSession, 'query'>;
  /** Flush at least this often while rows are buffered. */
  flushMs: number;
  /** Flush as soon as this many rows are buffered; also the most rows one INSERT carries. */
  batchSize: number;
  logger: Logger;
  /**
   * Where batches wait while the database cannot take them, replayed when it can. The service
   * gives a DiskSpool; the default keeps 64 MB in memory (lost with the process).
   */
  spool?: Spool;
  /**
   * Rows kept in memory before they reach the database or the spool. Past it (the spool's disk
   * stalls) the oldest rows are dropped and counted: memory must not take the process down.
   */
  maxBuffered?: number;
  /** A write that has not answered by then is treated as lost and spooled (replay is idempotent). */
  writeTimeoutMs?: number;
  /** First wait before replaying the spool, doubled after each failed replay up to replayMaxMs. */
  replayMinMs?: number;
  replayMaxMs?: number;
  observer?: ExposureObserver;
}

export interface ExposureStats {
  buffered: number;
  written: number;
  spooled: number;
  replayed: number;
  quarantined: number;
  dropped: number;
  failedWrites: number;
  /** Rows waiting in the spool. */
  inSpool: number;
}

// One INSERT per batch with a fixed eight parameters, whatever the batch size: arrays are
// unnested server-side, so no statement ever hits the 65,535-parameter limit. post_ids travel
// as array literals ('{1,2,3}') because unnest would flatten a two-dimensional int array.
// ON CONFLICT makes a batch written twice (a reply lost after the commit, a replayed spool
// segment) insert each exposure once.
const INSERT = `INSERT INTO exposures
  (logged_at, request_id, user_id, exp_group, model_version, post_ids, request_time, exposure_key)
SELECT l, r, u, g, m, p::int[], t, k
FROM unnest($1::timestamp[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamp[],
            $8::uuid[])
  AS x(l, r, u, g, m, p, t, k)
ON CONFLICT (exposure_key) DO NOTHING`;

// The table stores UTC wall-clock time without a zone; we send exactly that text, because a
// driver serialising a Date would use the process's local zone.
const utc = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

class WriteTimeoutError extends Error {
  constructor(ms: number) {
    super(`exposure write did not answer within ${ms} ms (connection timeout)`);
    this.name = 'WriteTimeoutError';
  }
}

/**
 * Buffers exposures and writes them in batches, off the request path. While the database cannot
 * take them (down, restarting, a connection killed) batches go to the spool and are replayed,
 * oldest first and each row exactly once, when it can again; a row the database refuses for good
 * is quarantined, counted and logged, and the rest move on.
 */
export class ExposureLogger {
  private buffer: KeyedExposure[] = [];
  private timer: NodeJS.Timeout | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private replayDelay: number;
  private pendingFlush: Promise<void> | undefined;
  /** Flushes and replays run one at a time, in order. */
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** True while writes go to the spool: from a failed write until the spool is replayed. */
  private degraded: boolean;
  private full = false;
  private readonly spool: Spool;
  private readonly maxBuffered: number;
  private readonly stats = {
    written: 0,
    spooled: 0,
    replayed: 0,
    quarantined: 0,
    dropped: 0,
    failedWrites: 0,
  };

  constructor(private readonly opts: ExposureLoggerOptions) {
    this.maxBuffered = opts.maxBuffered ?? Math.max(100_000, opts.batchSize * 10);
    this.spool = opts.spool ?? new MemorySpool(64 * 1024 * 1024);
    this.replayDelay = opts.replayMinMs ?? 500;
    // A previous process may have left rows in a disk spool: replay them before anything else.
    this.degraded = this.spool.rows > 0;
    if (this.degraded) {
      opts.logger.info({
        msg: 'exposure spool has rows of an earlier run; replaying',
        rows: this.spool.rows,
      });
      this.scheduleReplay(0);
    }
    this.report();
  }

  log(exposure: Exposure): void {
    const row: KeyedExposure = { ...exposure, key: randomUUID() };
    if (this.closed) return this.logAfterClose(row);
    this.buffer.push(row);
    if (this.buffer.length > this.maxBuffered) {
      const drop = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, drop);
      this.drop('memory_full', drop, { maxBuffered: this.maxBuffered });
    }
    if (this.buffer.length >= this.opts.batchSize) void this.flush();
    else this.arm();
  }

  /** Writes (or spools) everything buffered now, in batches; resolves when done. */
  flush(): Promise<void> {
    this.disarm();
    this.pendingFlush ??= this.exclusive(async () => {
      this.pendingFlush = undefined;
      await this.drain();
    });
    return this.pendingFlush;
  }

  /**
   * Stops the timers, writes every buffered row and tries to replay the spool until `timeoutMs`.
   * Rows still in a disk spool wait there for the next start. Resolves with the rows lost: those
   * left in a spool that does not outlive the process (0 with a disk spool).
   */
  async close(timeoutMs = 10_000): Promise<number> {
    this.closed = true;
    this.disarm();
    this.clearReplay();
    const until = Date.now() + timeoutMs;
    await this.flush();
    if (this.spool.rows > 0) await this.exclusive(() => this.replayAll());
    // Rows in a disk spool are safe as they are; only a memory spool is worth waiting for.
    let backoff = 50;
    while (!this.spool.durable && this.spool.rows > 0 && Date.now() + backoff <= until) {
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 1_000);
      await this.exclusive(() => this.replayAll());
    }
    const left = this.spool.rows;
    if (left === 0) return 0;
    if (this.spool.durable) {
      this.opts.logger.warn({
        msg: 'exposures left in the spool; the next start replays them',
        rows: left,
        spool: this.spool.where,
      });
      return 0;
    }
    this.opts.logger.error({ msg: 'exposures not written at close', lost: left });
    return left;
  }

  getStats(): ExposureStats {
    return { buffered: this.buffer.length, inSpool: this.spool.rows, ...this.stats };
  }

  // ---------- writing ----------

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.opts.batchSize);
      const left = this.degraded ? batch : await this.insertIsolating(batch);
      if (left.length > 0) await this.spill(left);
    }
  }

  /**
   * Inserts rows. A batch the database refuses is split until each refused row stands alone and
   * is quarantined; the others are written. Resolves with the rows not written because the
   * database could not be reached (in order; the writer spools them), [] when all were handled.
   */
  private async insertIsolating(rows: KeyedExposure[]): Promise<KeyedExposure[]> {
    const todo = [rows];
    while (todo.length > 0) {
      const part = todo.pop()!;
      try {
        await this.insert(part);
        this.stats.written += part.length;
      } catch (err) {
        this.stats.failedWrites += 1;
        if (isConnectionError(err)) {
          this.enterDegraded(err, part.length);
          return [part, ...todo.reverse()].flat();
        }
        if (part.length === 1) await this.quarantine(part, err);
        else {
          const mid = part.length >> 1;
          todo.push(part.slice(mid), part.slice(0, mid));
        }
      }
    }
    return [];
  }

  private async insert(batch: KeyedExposure[]): Promise<void> {
    const ms = this.opts.writeTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WriteTimeoutError(ms)), ms);
    });
    const write = this.opts.db.query(INSERT, [
      batch.map((e) => utc(e.loggedAt)),
      batch.map((e) => e.requestId),
      batch.map((e) => e.userId),
      batch.map((e) => e.group),
      batch.map((e) => e.modelVersion),
      batch.map((e) => `{${e.postIds.join(',')}}`),
      batch.map((e) => utc(e.requestTime)),
      batch.map((e) => e.key),
    ]);
    // A write that answers after its timeout may have committed: the spooled copy then meets
    // ON CONFLICT DO NOTHING when it is replayed.
    write.catch(() => undefined);
    try {
      await Promise.race([write, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private enterDegraded(err: unknown, rows: number): void {
    if (this.degraded) return;
    this.degraded = true;
    this.opts.logger.warn({
      msg: 'exposures cannot reach the database; spooling them until it is back',
      rows,
      spool: this.spool.where,
      err,
    });
    this.scheduleReplay(this.opts.replayMinMs ?? 500);
  }

  private async spill(rows: KeyedExposure[]): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.spool.append(rows);
    } catch (err) {
      this.drop('spool_error', rows.length, { err });
      return;
    }
    if (!ok) {
      this.drop('spool_full', rows.length, { maxBytes: this.spool.maxBytes });
      return;
    }
    this.stats.spooled += rows.length;
    this.opts.observer?.exposuresSpooled(rows.length);
    this.report();
  }

  private async quarantine(rows: KeyedExposure[], err: unknown): Promise<void> {
    const reason = err instanceof Error ? err.message : String(err);
    try {
      await this.spool.quarantine(rows, reason);
    } catch (e) {
      this.opts.logger.error({ msg: 'cannot write the exposure quarantine', err: e });
    }
    this.stats.quarantined += rows.length;
    this.opts.observer?.exposuresQuarantined(rows.length);
    this.opts.logger.error({
      msg: 'exposure refused by the database; quarantined, the others go on',
      requestIds: rows.map((r) => r.requestId),
      spool: this.spool.where,
      err,
    });
  }

  private drop(reason: DropReason, rows: number, fields: Record<string, unknown>): void {
    this.stats.dropped += rows;
    this.opts.observer?.exposuresDroppedFor(reason, rows);
    // One line when the spool fills up, not one per batch: the metric counts every row.
    if (reason === 'spool_full' && this.full) return;
    if (reason === 'spool_full') this.full = true;
    this.opts.logger.error({
      msg:
        reason === 'spool_full'
          ? 'exposure spool full: new exposures are dropped until the database takes the spool'
          : reason === 'memory_full'
            ? 'exposure buffer full, oldest rows dropped'
            : reason === 'after_close'
              ? 'exposure logged after close was lost: no disk spool and the database did not take it'
              : 'exposures could not be spooled and were dropped',
      dropped: rows,
      spool: this.spool.where,
      ...fields,
    });
    this.report();
  }

  // ---------- replay ----------

  private scheduleReplay(ms: number): void {
    if (this.replayTimer || this.closed) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      void this.exclusive(() => this.replayAll()).then((done) => {
        if (!done) {
          this.replayDelay = Math.min(this.replayDelay * 2, this.opts.replayMaxMs ?? 5_000);
          this.scheduleReplay(this.replayDelay);
        }
      });
    }, ms);
    // The replay timer alone must not keep a finished process alive.
    this.replayTimer.unref();
  }

  private clearReplay(): void {
    if (this.replayTimer) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
  }

  /** Replays the spool oldest first; true when it is empty and writes go to the database again. */
  private async replayAll(): Promise<boolean> {
    let replayed = 0;
    for (;;) {
      let seg;
      try {
        seg = await this.spool.oldest();
      } catch (err) {
        this.opts.logger.error({ msg: 'cannot read the exposure spool', spool: this.spool.where, err });
        return false;
      }
      if (!seg) break;
      const before = this.stats.written;
      const left = await this.insertIsolating(seg.rows);
      const done = this.stats.written - before;
      this.stats.replayed += done;
      replayed += done;
      this.opts.observer?.exposuresReplayed(done);
      await this.spool.settle(seg.id, left);
      this.report();
      if (left.length > 0) return false;
      // Between segments, rows answered meanwhile reach the spool too (the writer is degraded).
      if (this.buffer.length >= this.opts.batchSize) await this.drain();
    }
    if (this.degraded || replayed > 0)
      this.opts.logger.info({
        msg: 'exposure spool replayed; writing to the database again',
        rows: replayed,
      });
    this.degraded = false;
    this.full = false;
    this.replayDelay = this.opts.replayMinMs ?? 500;
    this.report();
    if (this.buffer.length > 0) this.arm();
    return true;
  }

  // ---------- after close ----------

  /**
   * A late answer after close() (a drain that timed out): spooled to disk for the next start, or
   * without a disk spool written at once if the database still takes it. Never dropped unsaid.
   */
  private logAfterClose(row: KeyedExposure): void {
    const fields = { requestId: row.requestId, spool: this.spool.where, afterClose: true };
    if (this.spool.durable) {
      try {
        if (this.spool.appendSync([row])) {
          this.stats.spooled += 1;
          this.opts.observer?.exposuresSpooled(1);
          this.opts.logger.warn({
            msg: 'exposure logged after close; spooled for the next start',
            ...fields,
          });
          return;
        }
        this.drop('spool_full', 1, fields);
      } catch (err) {
        this.drop('spool_error', 1, { ...fields, err });
      }
      return;
    }
    void this.exclusive(async () => {
      if ((await this.insertIsolating([row])).length > 0) this.drop('after_close', 1, fields);
    });
  }

  private report(): void {
    this.opts.observer?.spoolState({ rows: this.spool.rows, bytes: this.spool.bytes, full: this.full });
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.flushMs);
    // The flush timer alone must not keep a finished process alive; close() drains explicitly.
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
