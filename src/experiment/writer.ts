import type { FeedRow } from '../live/index.js';
import type { FeedSink } from './sinks.js';

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Gathers the rows of many visits into few writes (one POST or INSERT every flushMs, or as soon
 * as maxRows wait). add() resolves when its rows are in the log: only then may the same user
 * come back, so the service has had the chance to learn what they liked.
 */
export class BatchWriter {
  private pending: FeedRow[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failed: Error | undefined;
  written = 0;

  constructor(
    private readonly sink: FeedSink,
    private readonly flushMs = 100,
    private readonly maxRows = 5_000,
    private readonly retries = 5,
  ) {}

  add(rows: readonly FeedRow[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    this.pending.push(...rows);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.pending.length >= this.maxRows) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
    return done;
  }

  /** Writes everything added so far; rejects (and fails every later add) when the sink keeps failing. */
  async close(): Promise<void> {
    while (this.pending.length > 0 || this.flushing) await this.flush();
    if (this.failed) throw this.failed;
  }

  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing) return this.flushing;
    const rows = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.flushing = this.writeWithRetries(rows)
      .then(
        () => {
          this.written += rows.length;
          for (const w of waiters) w.resolve();
        },
        (err: Error) => {
          this.failed = err;
          for (const w of [...waiters, ...this.waiters]) w.reject(err);
          this.waiters = [];
          this.pending = [];
        },
      )
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
      });
    return this.flushing;
  }

  private async writeWithRetries(rows: FeedRow[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (rows.length > 0) await this.sink.write(rows);
        return;
      } catch (err) {
        if (attempt >= this.retries) throw err;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }
}
