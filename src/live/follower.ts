import type { DbSession } from '../db/index.js';
import { appendLiveEvent, LIVE_LIKE, LIVE_VIEW, type FeatureStore } from '../features/index.js';
import type { Logger } from '../log/index.js';

/** What the follower reports; the HTTP Metrics object satisfies it. */
export interface FollowerObserver {
  observeLiveRows(applied: { views: number; likes: number; dropped: number; skipped: number }): void;
  setLiveSeq(seq: number): void;
  observeFollowError(): void;
}

/** A timer the follower schedules its polls with (tests drive polls by hand instead). */
export type Schedule = (fn: () => void, ms: number) => { cancel(): void };

const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  // Polling alone must not keep a finished process alive; close() stops it explicitly.
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export interface FollowerOptions {
  db: Pick<DbSession, 'query'>;
  store: FeatureStore;
  /** The last change the store already includes (its snapshot's watermark). */
  fromSeq: number;
  /** Pause between polls that found nothing new; a full batch polls again at once. */
  intervalMs: number;
  batchRows?: number;
  logger: Logger;
  observer?: FollowerObserver;
  schedule?: Schedule;
}

interface ChangeRow {
  seq: string | number;
  user_id: number | null;
  post_id: number | null;
  action: string | null;
  at: number | null;
}

/**
 * Follows feed_changes (every row inserted into feed_data outside bulk loads, in commit order)
 * and appends each row to the store's live part, where the ranking workers see it at once.
 * This thread is the live part's only writer. Every replica follows the same table, so a like
 * logged through any of them, or written by the network straight into Postgres, reaches all.
 */
export class FeedFollower {
  private seq: number;
  private timer: { cancel(): void } | undefined;
  private polling: Promise<number> | undefined;
  private closed = false;
  private readonly batchRows: number;
  private readonly schedule: Schedule;

  constructor(private readonly opts: FollowerOptions) {
    this.seq = opts.fromSeq;
    this.batchRows = opts.batchRows ?? 5_000;
    this.schedule = opts.schedule ?? realSchedule;
    opts.observer?.setLiveSeq(this.seq);
  }

  /** The last change applied to the store. */
  get appliedSeq(): number {
    return this.seq;
  }

  /** Reads and applies one batch of new changes; resolves with the number of rows read. */
  poll(): Promise<number> {
    this.polling ??= this.readBatch().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Polls until nothing new is left (start-up: a restarted service sees every earlier like). */
  async catchUp(): Promise<void> {
    while ((await this.poll()) === this.batchRows);
  }

  /** Polls in the background until close(). A failed poll is logged and retried next time. */
  start(): void {
    if (this.closed || this.timer) return;
    const tick = () => {
      this.timer = undefined;
      if (this.closed) return;
      this.poll().then(
        (n) => this.arm(n === this.batchRows ? 0 : this.opts.intervalMs, tick),
        (err: unknown) => {
          this.opts.observer?.observeFollowError();
          this.opts.logger.warn({ msg: 'following feed_changes failed, will retry', err });
          this.arm(this.opts.intervalMs, tick);
        },
      );
    };
    this.arm(this.opts.intervalMs, tick);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.polling?.catch(() => undefined);
  }

  private arm(ms: number, tick: () => void): void {
    if (!this.closed) this.timer = this.schedule(tick, ms);
  }

  private async readBatch(): Promise<number> {
    const rows = await this.opts.db.query<ChangeRow>(
      // Seconds rounded up, as in the feature tables: a like never counts before it happened.
      `select seq, user_id, post_id, action, ceil(extract(epoch from "timestamp"))::int at
       from feed_changes where seq > $1 order by seq limit $2`,
      [this.seq, this.batchRows],
    );
    const { store } = this.opts;
    const n = { views: 0, likes: 0, dropped: 0, skipped: 0 };
    for (const r of rows) {
      const ui =
        r.user_id !== null && r.user_id <= store.dims.maxUserId ? store.userIndexById[r.user_id]! : -1;
      const pi =
        r.post_id !== null && r.post_id <= store.dims.maxPostId ? store.postIndexById[r.post_id]! : -1;
      const kind = r.action === 'like' ? LIVE_LIKE : r.action === 'view' ? LIVE_VIEW : undefined;
      // Users outside the fixed user set, unknown actions and likes of posts we cannot serve
      // change nothing the ranking reads (the snapshot skips the same rows).
      if (ui < 0 || r.at === null || kind === undefined || (kind === LIVE_LIKE && pi < 0)) n.skipped++;
      else if (!appendLiveEvent(store, { ui, pi, atSec: r.at, kind })) n.dropped++;
      else if (kind === LIVE_LIKE) n.likes++;
      else n.views++;
    }
    if (rows.length > 0) {
      this.seq = Number(rows[rows.length - 1]!.seq);
      this.opts.observer?.observeLiveRows(n);
      this.opts.observer?.setLiveSeq(this.seq);
      if (n.dropped > 0)
        this.opts.logger.error({
          msg: 'live event pool full: new rows wait for the next feature snapshot',
          dropped: n.dropped,
          capacity: store.dims.liveEvents,
        });
    }
    return rows.length;
  }
}
