import { isConnectionError } from './errors.js';

export interface RetryOptions {
  /** Keep trying for this long after the first attempt; 0 means one attempt. */
  forMs: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Told before each wait, e.g. to log which host and port did not answer. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** Injected in tests: the clock and the wait. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const realSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs `fn` until it succeeds, retrying with exponential backoff (0.5 s doubling to 5 s) while it
 * fails because the database cannot be reached, for at most `forMs`. Any other failure (a wrong
 * password, a missing database, bad data) is thrown at once: waiting does not fix it.
 */
export async function retryWhileUnreachable<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const maxDelay = opts.maxDelayMs ?? 5_000;
  const giveUpAt = now() + opts.forMs;
  let delay = opts.firstDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      const left = giveUpAt - now();
      if (!isConnectionError(err) || left <= 0 || opts.signal?.aborted) throw err;
      const wait = Math.min(delay, left);
      opts.onRetry?.(err, attempt, wait);
      await sleep(wait, opts.signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
