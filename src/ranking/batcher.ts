// Micro-batching: requests that arrive within a few milliseconds of each other share one model
// run, because one session.run over many rows costs much less than many small runs.
//
// The batcher is also the ranking queue's admission point. Under overload the expensive mistake
// is work for requests nobody waits for any more (congestion collapse), so: an admission policy
// (admission.ts) decides at arrival, while refusing is still cheap; a request whose deadline
// passes while it waits leaves the queue at once; and a batch holds only live requests.
import { DeadlineExceededError, OverloadedError } from '../errors/index.js';
import type { AdmissionPolicy } from './admission.js';

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

/** Why a request left the queue without a result. */
export type DropReason = 'admission' | 'max-wait' | 'deadline';

export interface MicroBatcherOptions<Item, Result> {
  /** A batch is flushed as soon as this many items wait. */
  maxBatch: number;
  /** …or this long after the first waiting item arrived, whichever comes first. */
  maxDelayMs: number;
  /**
   * Must resolve with one entry per item, in the same order: its result, or an ItemFailure for
   * an item the flush could not serve (the rest of the batch is unaffected).
   */
  flush: (items: Item[]) => Promise<(Result | ItemFailure)[]>;
  clock?: BatcherClock;
  /**
   * Batches allowed in flight at once. While all slots are busy, waiting items keep gathering
   * (up to maxBatch per batch) and go out when a slot frees: under load batches grow instead of
   * queueing many tiny ones. Default: unlimited.
   */
  maxConcurrentFlushes?: number;
  /** Items of one batch share a key (e.g. the model); a batch takes the key of its first item. */
  key?: (item: Item) => string;
  /** Who may join the queue, how long they may wait, in which order. Default: everyone, FIFO. */
  admission?: AdmissionPolicy;
  /** Observes each dispatched batch (e.g. the batch-size histogram). */
  onBatch?: (size: number) => void;
  /** Observes requests that left the queue unserved. */
  onDrop?: (reason: DropReason, count: number) => void;
}

/** A flush that did not return one result per item. */
export class BatchResultMismatchError extends Error {
  constructor(expected: number, got: number) {
    super(`batch flush returned ${got} results for ${expected} items`);
    this.name = 'BatchResultMismatchError';
  }
}

/** One item of a batch that failed alone (e.g. its deadline passed before the worker got to it). */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

interface Waiting<Item, Result> {
  item: Item;
  arrivedAt: number;
  deadline: number;
  resolve: (r: Result) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher<Item, Result> {
  private waiting: Waiting<Item, Result>[] = [];
  private timer: unknown = undefined;
  private inFlight = 0;
  private runningItems = 0;
  private readonly clock: BatcherClock;
  private readonly maxConcurrent: number;

  constructor(private readonly opts: MicroBatcherOptions<Item, Result>) {
    if (!(opts.maxBatch >= 1)) throw new RangeError('maxBatch must be at least 1');
    if (!(opts.maxDelayMs >= 0)) throw new RangeError('maxDelayMs must be at least 0');
    this.clock = opts.clock ?? systemClock;
    this.maxConcurrent = opts.maxConcurrentFlushes ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Queues an item to be served before `deadline` (clock time). Rejects with OverloadedError when
   * the admission policy sheds it (at once, or later if it waits too long under a standing queue)
   * and with DeadlineExceededError when the deadline passes before a worker got it.
   */
  add(item: Item, deadline = Number.POSITIVE_INFINITY): Promise<Result> {
    const now = this.clock.now();
    const policy = this.opts.admission;
    if (policy && !policy.admit({ now, waiting: this.waiting.length, running: this.runningItems })) {
      this.opts.onDrop?.('admission', 1);
      return Promise.reject(new OverloadedError());
    }
    if (deadline <= now) {
      this.opts.onDrop?.('deadline', 1);
      return Promise.reject(new DeadlineExceededError());
    }
    return new Promise<Result>((resolve, reject) => {
      this.waiting.push({ item, arrivedAt: now, deadline, resolve, reject });
      this.pump();
    });
  }

  /**
   * Would the admission policy take one more item now? It asks the same question add() asks,
   * so the HTTP layer can shed a request before reading it, while refusing is cheapest.
   */
  admits(): boolean {
    const policy = this.opts.admission;
    if (!policy) return true;
    return policy.admit({ now: this.clock.now(), waiting: this.waiting.length, running: this.runningItems });
  }

  /** Items waiting for a batch (not yet handed to flush). */
  get pending(): number {
    return this.waiting.length;
  }

  /** Batches handed to flush and not settled yet. */
  get flushing(): number {
    return this.inFlight;
  }

  /** Items in batches handed to flush and not settled yet. */
  get running(): number {
    return this.runningItems;
  }

  /** Sends everything waiting now, ignoring maxDelayMs (still honours maxConcurrentFlushes). */
  flushNow(): void {
    this.pump(true);
  }

  /** Removes items past their deadline or past the policy's longest wait, rejecting each. */
  private sweep(now: number): void {
    const maxWait = this.opts.admission?.maxWait(now) ?? Number.POSITIVE_INFINITY;
    // Both bounds inclusive, so a timer set for the moment one is reached always removes the item.
    const gone = (w: Waiting<Item, Result>) => w.deadline <= now || now - w.arrivedAt >= maxWait;
    if (!this.waiting.some(gone)) return;
    const keep: Waiting<Item, Result>[] = [];
    let expired = 0;
    let shed = 0;
    for (const w of this.waiting) {
      if (w.deadline <= now) {
        expired += 1;
        w.reject(new DeadlineExceededError());
      } else if (now - w.arrivedAt >= maxWait) {
        shed += 1;
        w.reject(new OverloadedError());
      } else keep.push(w);
    }
    this.waiting = keep;
    if (expired > 0) {
      this.opts.admission?.onExpired(now, expired);
      this.opts.onDrop?.('deadline', expired);
    }
    if (shed > 0) this.opts.onDrop?.('max-wait', shed);
  }

  private pump(force = false): void {
    while (this.waiting.length > 0 && this.inFlight < this.maxConcurrent) {
      const now = this.clock.now();
      this.sweep(now);
      if (this.waiting.length === 0) break;
      const full = this.waiting.length >= this.opts.maxBatch;
      const due = now - this.waiting[0]!.arrivedAt >= this.opts.maxDelayMs;
      if (!full && !due && !force) break;
      this.dispatch(this.take(this.opts.admission?.lifo(now) ?? false), now);
    }
    this.rearm();
  }

  /** Up to maxBatch items of one key, oldest first (or newest first under adaptive LIFO). */
  private take(lifo: boolean): Waiting<Item, Result>[] {
    const q = this.waiting;
    const keyOf = this.opts.key;
    const order = lifo ? q.map((_, i) => q.length - 1 - i) : q.map((_, i) => i);
    const key = keyOf ? keyOf(q[order[0]!]!.item) : undefined;
    const picked = new Set<number>();
    for (const i of order) {
      if (picked.size >= this.opts.maxBatch) break;
      if (keyOf && keyOf(q[i]!.item) !== key) continue;
      picked.add(i);
    }
    const batch = order.filter((i) => picked.has(i)).map((i) => q[i]!);
    this.waiting = q.filter((_, i) => !picked.has(i));
    return batch;
  }

  private rearm(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    if (this.waiting.length === 0) return;
    const now = this.clock.now();
    // The next moment something changes: the oldest item is due for a batch (only if a slot is
    // free), or an item reaches its deadline or its longest wait (even with every slot busy, so
    // it leaves the queue then and not when a slot frees).
    let earliest = Number.POSITIVE_INFINITY;
    for (const w of this.waiting) earliest = Math.min(earliest, w.deadline);
    const maxWait = this.opts.admission?.maxWait(now) ?? Number.POSITIVE_INFINITY;
    let at = Math.min(earliest, this.waiting[0]!.arrivedAt + maxWait);
    if (this.inFlight < this.maxConcurrent)
      at = Math.min(at, this.waiting[0]!.arrivedAt + this.opts.maxDelayMs);
    if (!Number.isFinite(at)) return;
    this.timer = this.clock.setTimer(
      () => {
        this.timer = undefined;
        this.sweep(this.clock.now());
        this.pump();
      },
      Math.max(0, at - now),
    );
  }

  private dispatch(batch: Waiting<Item, Result>[], now: number): void {
    this.inFlight += 1;
    this.runningItems += batch.length;
    this.opts.admission?.onDispatch(now, batch.length, this.waiting.length === 0);
    this.opts.onBatch?.(batch.length);
    let run: Promise<(Result | ItemFailure)[]>;
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
          batch.forEach((w, i) => {
            const r = results[i]!;
            if (r instanceof ItemFailure) w.reject(r.error);
            else w.resolve(r);
          });
        },
        // Only this batch fails: other batches, earlier or later, are unaffected.
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        const done = this.clock.now();
        this.inFlight -= 1;
        this.runningItems -= batch.length;
        const slowest = done - Math.min(...batch.map((w) => w.arrivedAt));
        this.opts.admission?.onComplete(done, batch.length, done - now, slowest);
        this.pump();
      });
  }
}
