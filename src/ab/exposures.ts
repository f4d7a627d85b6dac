import type { DbSession } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { ExpGroup } from './bucket.js';

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

export interface ExposureLoggerOptions {
  db: Pick<DbSession, 'query'>;
  /** Flush at least this often while rows are buffered. */
  flushMs: number;
  /** Flush as soon as this many rows are buffered; also the most rows one INSERT carries. */
  batchSize: number;
  logger: Logger;
  /**
   * Rows kept while the database is failing. Past it the oldest rows are dropped and counted:
   * a long outage must not take the process down by memory, and losing old exposures is
   * better than refusing to serve.
   */
  maxBuffered?: number;
  /** Called with the number of rows dropped past maxBuffered (for a metrics counter). */
  onDrop?: (rows: number) => void;
}

export interface ExposureStats {
  buffered: number;
  written: number;
  dropped: number;
  failedFlushes: number;
}

// One INSERT per batch with a fixed seven parameters, whatever the batch size: arrays are
// unnested server-side, so no statement ever hits the 65,535-parameter limit. post_ids travel
// as array literals ('{1,2,3}') because unnest would flatten a two-dimensional int array.
const INSERT = `INSERT INTO exposures
  (logged_at, request_id, user_id, exp_group, model_version, post_ids, request_time)
SELECT l, r, u, g, m, p::int[], t
FROM unnest($1::timestamp[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamp[])
  AS x(l, r, u, g, m, p, t)`;

// The table stores UTC wall-clock time without a zone; we send exactly that text, because a
// driver serialising a Date would use the process's local zone.
const utc = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/**
 * Buffers exposures and writes them in batches, off the request path. A failed flush keeps its
 * rows and is retried on the next tick, so a short database outage loses nothing.
 */
export class ExposureLogger {
  private buffer: Exposure[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** After a failed flush, size-triggered flushes wait for the retry timer (no retry storm). */
  private backoffUntil = 0;
  private readonly maxBuffered: number;
  private readonly stats = { written: 0, dropped: 0, failedFlushes: 0 };

  constructor(private readonly opts: ExposureLoggerOptions) {
    this.maxBuffered = opts.maxBuffered ?? Math.max(100_000, opts.batchSize * 10);
  }

  log(exposure: Exposure): void {
    if (this.closed) {
      // Late answers after close() still matter: keep them, close() drains until empty.
      this.opts.logger.warn({ msg: 'exposure logged after close', requestId: exposure.requestId });
    }
    this.buffer.push(exposure);
    if (this.buffer.length > this.maxBuffered) {
      const drop = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, drop);
      this.stats.dropped += drop;
      this.opts.onDrop?.(drop);
      this.opts.logger.error({ msg: 'exposure buffer full, oldest rows dropped', dropped: drop });
    }
    if (this.buffer.length >= this.opts.batchSize && Date.now() >= this.backoffUntil) void this.flush();
    else this.arm();
  }

  /** Writes everything buffered now (in batches); resolves when done or when a batch failed. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.disarm();
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.buffer.length > 0 && !this.closed) this.arm();
    });
    return this.flushing;
  }

  /**
   * Stops the timer and writes every buffered row, retrying failed batches until `timeoutMs`.
   * Resolves with what is left unwritten (0 unless the database stayed down).
   */
  async close(timeoutMs = 10_000): Promise<number> {
    this.closed = true;
    this.disarm();
    const until = Date.now() + timeoutMs;
    let backoff = 50;
    while (this.buffer.length > 0 || this.flushing) {
      await this.flush();
      if (this.buffer.length === 0) break;
      if (Date.now() + backoff > until) break;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 1_000);
    }
    const lost = this.buffer.length;
    if (lost > 0) {
      this.opts.logger.error({ msg: 'exposures not written at close', lost });
    }
    return lost;
  }

  getStats(): ExposureStats {
    return { buffered: this.buffer.length, ...this.stats };
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.opts.batchSize);
      try {
        await this.insert(batch);
        this.stats.written += batch.length;
      } catch (err) {
        // Put the rows back in front, in order: the next tick (or close) retries them.
        this.buffer.unshift(...batch);
        this.stats.failedFlushes += 1;
        this.backoffUntil = Date.now() + this.opts.flushMs;
        this.opts.logger.warn({
          msg: 'exposure flush failed, will retry',
          rows: batch.length,
          buffered: this.buffer.length,
          err,
        });
        return;
      }
    }
  }

  private insert(batch: Exposure[]): Promise<unknown> {
    return this.opts.db.query(INSERT, [
      batch.map((e) => utc(e.loggedAt)),
      batch.map((e) => e.requestId),
      batch.map((e) => e.userId),
      batch.map((e) => e.group),
      batch.map((e) => e.modelVersion),
      batch.map((e) => `{${e.postIds.join(',')}}`),
      batch.map((e) => utc(e.requestTime)),
    ]);
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
