// Admission policies of the ranking queue: which arriving requests join the queue, how long one
// may wait, and in which order the queue is served. The batcher asks them; they keep their own
// measurements, and all time comes from the batcher's (injectable) clock.
//
// Whatever the policy, the queue never holds more than `limit` requests, and a request whose
// deadline has passed is never sent to a worker (the batcher drops it; see batcher.ts).

/** What a policy sees of the queue when a request arrives. */
export interface QueueState {
  now: number;
  /** Requests waiting for a batch. */
  waiting: number;
  /** Requests in batches handed to the workers and not settled. */
  running: number;
}

export interface AdmissionPolicy {
  readonly name: string;
  /** At arrival: may this request join the queue? (false = shed now, 503.) */
  admit(q: QueueState): boolean;
  /** Longest a request may wait now before it is shed at dispatch (CoDel); Infinity = no limit. */
  maxWait(now: number): number;
  /** Serve the newest request first (adaptive LIFO)? */
  lifo(now: number): boolean;
  /** A batch left the queue; `emptyAfter` says whether the queue is now empty. */
  onDispatch(now: number, size: number, emptyAfter: boolean): void;
  /**
   * A batch came back after `runMs` (dispatch to result, as the HTTP thread saw it). `slowest` is
   * the longest time from arrival to result among its requests.
   */
  onComplete(now: number, size: number, runMs: number, slowest: number): void;
  /** Requests dropped because their deadline passed while they waited. */
  onExpired(now: number, count: number): void;
  /**
   * A worker served `size` requests in `serviceMs` of its own time (from taking the batch to its
   * result, without the wait in the queue or for this thread to read the result).
   */
  onServed?(size: number, serviceMs: number): void;
}

export const ADMISSION_POLICIES = ['queue-time', 'codel', 'aimd', 'fixed'] as const;
export type AdmissionPolicyName = (typeof ADMISSION_POLICIES)[number];

export interface AdmissionOptions {
  policy: AdmissionPolicyName;
  /** Hard bound on waiting requests, for every policy. */
  limit: number;
  /**
   * queue-time: the longest predicted wait admitted; aimd: the arrival-to-result latency above
   * which the limit backs off. (codel keeps the paper's 5 ms / 100 ms.)
   */
  targetMs: number;
  /** Batch slots (workers × tasks each): how many batches may be handed to the workers at once. */
  slots: number;
  /** Workers ranking in parallel (queue-time divides the work ahead by them). */
  workers?: number;
  /** Smallest useful queue: one full batch per slot (aimd never limits below it). */
  minQueue: number;
}

/** The baseline: a static bound on waiting requests. */
class FixedLimit implements AdmissionPolicy {
  readonly name = 'fixed';
  constructor(private readonly limit: number) {}
  admit(q: QueueState): boolean {
    return q.waiting < this.limit;
  }
  maxWait(): number {
    return Number.POSITIVE_INFINITY;
  }
  lifo(): boolean {
    return false;
  }
  onDispatch(): void {}
  onComplete(): void {}
  onExpired(): void {}
}

/**
 * Queue-time admission (Little's law on the workers' own service times): a request is admitted
 * when the work ahead of it, (waiting + handed to workers + itself) × the measured worker time
 * per request ÷ the workers, fits in the target. The time per request is a recent mean weighted
 * by batch size (big batches, as under load, count most), measured by the workers themselves: a
 * busy event loop on this thread does not inflate it, so a slow loop cannot make admission refuse
 * work the workers could do. It reacts to a burst at once (the queue length is known now), unlike
 * signals that wait for requests to age, and it is a concurrency limit of target × measured
 * throughput that follows the machine's speed.
 */
export class QueueTimeAdmission implements AdmissionPolicy {
  readonly name = 'queue-time';
  private sumMs = 0;
  private sumN = 0;

  constructor(
    private readonly opts: {
      limit: number;
      targetMs: number;
      workers: number;
      /** Weight left to the past at each batch (0.9: about the last ten batches count). */
      decay?: number;
    },
  ) {}

  /** Worker ms per request (recent, batch-size weighted), undefined before the first batch. */
  get perRequestMs(): number | undefined {
    return this.sumN > 0 ? this.sumMs / this.sumN : undefined;
  }

  /** Predicted time from arrival to result for a request with `ahead` requests before it. */
  predictedMs(ahead: number): number | undefined {
    const per = this.perRequestMs;
    return per === undefined ? undefined : ((ahead + 1) * per) / this.opts.workers;
  }

  /**
   * An empty system always admits: otherwise one slow batch (a cold start, a CPU stolen for a
   * moment) could set an estimate that refuses everything, and with nothing admitted nothing
   * would ever correct it.
   */
  admit(q: QueueState): boolean {
    if (q.waiting >= this.opts.limit) return false;
    const ahead = q.waiting + q.running;
    if (ahead === 0) return true;
    const predicted = this.predictedMs(ahead);
    return predicted === undefined || predicted <= this.opts.targetMs;
  }
  maxWait(): number {
    return Number.POSITIVE_INFINITY;
  }
  lifo(): boolean {
    return false;
  }
  onDispatch(): void {}
  onComplete(): void {}
  onExpired(): void {}
  onServed(size: number, serviceMs: number): void {
    if (!(size > 0) || !(serviceMs >= 0)) return;
    const d = this.opts.decay ?? 0.9;
    this.sumMs = this.sumMs * d + serviceMs;
    this.sumN = this.sumN * d + size;
  }
}

/**
 * Facebook's adaptive CoDel with adaptive LIFO ("Fail at Scale", after Nichols & Jacobson's
 * CoDel): while the queue has been empty within the last interval, a request may wait up to the
 * interval (absorbing bursts); once it has not been empty for a whole interval (a standing
 * queue), a request may wait only `targetMs`, and the newest are served first, so the ones
 * still fresh get answered and the stale ones are shed.
 */
export class CoDelAdmission implements AdmissionPolicy {
  readonly name = 'codel';
  private lastEmpty: number;

  constructor(
    private readonly opts: { limit: number; targetMs: number; intervalMs: number },
    now: number,
  ) {
    this.lastEmpty = now;
  }

  private congested(now: number): boolean {
    return now - this.lastEmpty > this.opts.intervalMs;
  }
  admit(q: QueueState): boolean {
    if (q.waiting === 0) this.lastEmpty = q.now;
    return q.waiting < this.opts.limit;
  }
  maxWait(now: number): number {
    return this.congested(now) ? this.opts.targetMs : this.opts.intervalMs;
  }
  lifo(now: number): boolean {
    return this.congested(now);
  }
  onDispatch(now: number, _size: number, emptyAfter: boolean): void {
    if (emptyAfter) this.lastEmpty = now;
  }
  onComplete(): void {}
  onExpired(): void {}
}

/**
 * Netflix's AIMD concurrency limit (concurrency-limits, AIMDLimit): requests in the system
 * (waiting + running) may not exceed the limit; a batch that came back within the target while
 * the limit was at least half used raises it by one, a slow batch or a request that expired in
 * the queue multiplies it by the backoff ratio.
 */
export class AimdAdmission implements AdmissionPolicy {
  readonly name = 'aimd';
  private current: number;
  private inSystem = 0;

  constructor(
    private readonly opts: {
      limit: number;
      targetMs: number;
      minLimit: number;
      initial?: number;
      backoff?: number;
    },
  ) {
    this.current = Math.min(opts.limit, Math.max(opts.minLimit, opts.initial ?? 4 * opts.minLimit));
  }

  get concurrencyLimit(): number {
    return Math.floor(this.current);
  }
  admit(q: QueueState): boolean {
    this.inSystem = q.waiting + q.running;
    return q.waiting < this.opts.limit && this.inSystem < this.concurrencyLimit;
  }
  maxWait(): number {
    return Number.POSITIVE_INFINITY;
  }
  lifo(): boolean {
    return false;
  }
  onDispatch(): void {}
  onComplete(_now: number, _size: number, _runMs: number, slowest: number): void {
    if (slowest > this.opts.targetMs) this.backOff();
    else if (this.inSystem * 2 >= this.current) this.current = Math.min(this.opts.limit, this.current + 1);
  }
  onExpired(_now?: number, _count?: number): void {
    this.backOff();
  }
  private backOff(): void {
    this.current = Math.max(this.opts.minLimit, this.current * (this.opts.backoff ?? 0.9));
  }
}

export function createAdmission(o: AdmissionOptions, now: number): AdmissionPolicy {
  switch (o.policy) {
    case 'fixed':
      return new FixedLimit(o.limit);
    case 'queue-time':
      return new QueueTimeAdmission({ limit: o.limit, targetMs: o.targetMs, workers: o.workers ?? o.slots });
    case 'codel':
      // The figures of "Fail at Scale": a 100 ms interval and a 5 ms queue timeout once congested.
      return new CoDelAdmission({ limit: o.limit, targetMs: 5, intervalMs: 100 }, now);
    case 'aimd':
      return new AimdAdmission({ limit: o.limit, targetMs: o.targetMs, minLimit: o.minQueue });
  }
}
