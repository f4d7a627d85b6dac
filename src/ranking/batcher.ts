// Micro-batching: requests that arrive within a few milliseconds of each other share one model
// run, because one session.run over many rows costs much less than many small runs.

/** Time source and timers, injected so the batcher is tested with a fake clock. */
export interface BatcherClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: BatcherClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface MicroBatcherOptions<Item, Result> {
  /** A batch is flushed as soon as this many items wait. */
  maxBatch: number;
  /** …or this long after the first waiting item arrived, whichever comes first. */
  maxDelayMs: number;
  /** Must resolve with one result per item, in the same order. */
  flush: (items: Item[]) => Promise<Result[]>;
  clock?: BatcherClock;
  /**
   * Batches allowed in flight at once. While all slots are busy, waiting items keep gathering
   * (up to maxBatch per batch) and go out when a slot frees: under load batches grow instead of
   * queueing many tiny ones. Default: unlimited.
   */
  maxConcurrentFlushes?: number;
  /** Observes each dispatched batch (e.g. the batch-size histogram). */
  onBatch?: (size: number) => void;
}

/** A flush that did not return one result per item. */
export class BatchResultMismatchError extends Error {
  constructor(expected: number, got: number) {
    super(`batch flush returned ${got} results for ${expected} items`);
    this.name = 'BatchResultMismatchError';
  }
}

interface Waiting<Item, Result> {
  item: Item;
  arrivedAt: number;
  resolve: (r: Result) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher<Item, Result> {
  private readonly waiting: Waiting<Item, Result>[] = [];
  private timer: unknown = undefined;
  private inFlight = 0;
  private readonly clock: BatcherClock;
  private readonly maxConcurrent: number;

  constructor(private readonly opts: MicroBatcherOptions<Item, Result>) {
    if (!(opts.maxBatch >= 1)) throw new RangeError('maxBatch must be at least 1');
    if (!(opts.maxDelayMs >= 0)) throw new RangeError('maxDelayMs must be at least 0');
    this.clock = opts.clock ?? systemClock;
    this.maxConcurrent = opts.maxConcurrentFlushes ?? Number.POSITIVE_INFINITY;
  }

  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.waiting.push({ item, arrivedAt: this.clock.now(), resolve, reject });
      this.pump();
    });
  }

  /** Items waiting for a batch (not yet handed to flush). */
  get pending(): number {
    return this.waiting.length;
  }

  /** Batches handed to flush and not settled yet. */
  get flushing(): number {
    return this.inFlight;
  }

  /** Sends everything waiting now, ignoring maxDelayMs (still honours maxConcurrentFlushes). */
  flushNow(): void {
    this.pump(true);
  }

  private pump(force = false): void {
    while (this.waiting.length > 0 && this.inFlight < this.maxConcurrent) {
      const full = this.waiting.length >= this.opts.maxBatch;
      const due = this.clock.now() - this.waiting[0]!.arrivedAt >= this.opts.maxDelayMs;
      if (!full && !due && !force) break;
      this.dispatch(this.waiting.splice(0, this.opts.maxBatch));
    }
    this.rearm();
  }

  private rearm(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    // With every slot busy there is nothing to wake up for: a finishing batch pumps again.
    if (this.waiting.length === 0 || this.inFlight >= this.maxConcurrent) return;
    const wait = Math.max(0, this.waiting[0]!.arrivedAt + this.opts.maxDelayMs - this.clock.now());
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  private dispatch(batch: Waiting<Item, Result>[]): void {
    this.inFlight += 1;
    this.opts.onBatch?.(batch.length);
    let run: Promise<Result[]>;
    try {
      run = Promise.resolve(this.opts.flush(batch.map((w) => w.item)));
    } catch (err) {
      run = Promise.reject(err);
    }
    run
      .then(
        (results) => {
          if (!Array.isArray(results) || results.length !== batch.length) {
            const err = new BatchResultMismatchError(batch.length, results?.length ?? 0);
            for (const w of batch) w.reject(err);
            return;
          }
          batch.forEach((w, i) => w.resolve(results[i]!));
        },
        // Only this batch fails: other batches, earlier or later, are unaffected.
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
  }
}
