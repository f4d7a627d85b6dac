import { describe, expect, it } from 'vitest';
import { BatchResultMismatchError, MicroBatcher } from '../../src/ranking/batcher.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A flush whose batches the test resolves or rejects by hand. */
function manualFlush<I>() {
  const calls: { items: I[]; resolve: (r: string[]) => void; reject: (e: unknown) => void }[] = [];
  const flush = (items: I[]) =>
    new Promise<string[]>((resolve, reject) => calls.push({ items, resolve, reject }));
  return { calls, flush };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('micro-batcher', () => {
  it('flushes as soon as maxBatch items wait, without waiting for the delay', async () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const b = new MicroBatcher({ maxBatch: 3, maxDelayMs: 10, flush, clock });
    const ps = [1, 2, 3].map((i) => b.add(i));
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    calls[0]!.resolve(['a', 'b', 'c']);
    expect(await Promise.all(ps)).toEqual(['a', 'b', 'c']);
    expect(clock.armed).toBe(0);
  });

  it('flushes a partial batch maxDelayMs after its first item arrived', async () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const b = new MicroBatcher({ maxBatch: 10, maxDelayMs: 5, flush, clock });
    const p1 = b.add(1);
    clock.advance(3);
    const p2 = b.add(2);
    clock.advance(1);
    expect(calls).toHaveLength(0);
    clock.advance(1); // 5 ms after item 1, only 2 ms after item 2
    expect(calls.map((c) => c.items)).toEqual([[1, 2]]);
    calls[0]!.resolve(['x1', 'x2']);
    expect(await p1).toBe('x1');
    expect(await p2).toBe('x2');
  });

  it('maps results back to callers in order across several batches', async () => {
    const clock = new FakeClock();
    const b = new MicroBatcher<number, number>({
      maxBatch: 4,
      maxDelayMs: 2,
      clock,
      flush: async (items) => items.map((i) => i * 10),
    });
    const ps = Array.from({ length: 10 }, (_, i) => b.add(i));
    clock.advance(2);
    expect(await Promise.all(ps)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('rejects exactly the batch whose flush failed', async () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const b = new MicroBatcher({ maxBatch: 2, maxDelayMs: 5, flush, clock });
    const first = [b.add(1), b.add(2)];
    const second = [b.add(3), b.add(4)];
    calls[0]!.reject(new Error('model crashed'));
    calls[1]!.resolve(['c', 'd']);
    await expect(first[0]).rejects.toThrow('model crashed');
    await expect(first[1]).rejects.toThrow('model crashed');
    expect(await Promise.all(second)).toEqual(['c', 'd']);
    // A later batch still works.
    const third = b.add(5);
    clock.advance(5);
    calls[2]!.resolve(['e']);
    expect(await third).toBe('e');
  });

  it('rejects the batch when flush throws synchronously or returns the wrong number of results', async () => {
    const clock = new FakeClock();
    const thrower = new MicroBatcher<number, number>({
      maxBatch: 1,
      maxDelayMs: 0,
      clock,
      flush: () => {
        throw new Error('sync failure');
      },
    });
    await expect(thrower.add(1)).rejects.toThrow('sync failure');
    const short = new MicroBatcher<number, number>({
      maxBatch: 2,
      maxDelayMs: 5,
      clock,
      flush: async () => [1],
    });
    const ps = [short.add(1), short.add(2)];
    await expect(ps[0]).rejects.toBeInstanceOf(BatchResultMismatchError);
    await expect(ps[1]).rejects.toBeInstanceOf(BatchResultMismatchError);
  });

  it('forms the next batch while one is in flight', async () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const b = new MicroBatcher({ maxBatch: 2, maxDelayMs: 5, flush, clock });
    void b.add(1);
    void b.add(2);
    void b.add(3);
    clock.advance(5);
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3]]);
    expect(b.flushing).toBe(2);
  });

  it('with all flush slots busy, lets waiting items gather into one bigger batch', async () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const sizes: number[] = [];
    const b = new MicroBatcher({
      maxBatch: 8,
      maxDelayMs: 1,
      flush,
      clock,
      maxConcurrentFlushes: 1,
      onBatch: (n) => sizes.push(n),
    });
    const first = b.add(1);
    clock.advance(1);
    expect(calls).toHaveLength(1);
    const rest = [2, 3, 4, 5, 6].map((i) => b.add(i));
    clock.advance(50); // long past the delay, but the only slot is busy
    expect(calls).toHaveLength(1);
    expect(b.pending).toBe(5);
    calls[0]!.resolve(['r1']);
    await first;
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4, 5, 6]]);
    calls[1]!.resolve(['r2', 'r3', 'r4', 'r5', 'r6']);
    expect(await Promise.all(rest)).toEqual(['r2', 'r3', 'r4', 'r5', 'r6']);
    expect(sizes).toEqual([1, 5]);
  });

  it('still splits at maxBatch when a backlog is released', async () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const b = new MicroBatcher({ maxBatch: 3, maxDelayMs: 1, flush, clock, maxConcurrentFlushes: 1 });
    void b.add(0);
    clock.advance(1);
    for (let i = 1; i <= 7; i++) void b.add(i);
    calls[0]!.resolve(['0']);
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[0], [1, 2, 3]]);
    calls[1]!.resolve(['1', '2', '3']);
    await settle();
    expect(calls.map((c) => c.items)[2]).toEqual([4, 5, 6]);
  });

  it('flushNow sends what waits without waiting for the delay', () => {
    const clock = new FakeClock();
    const { calls, flush } = manualFlush<number>();
    const b = new MicroBatcher({ maxBatch: 10, maxDelayMs: 1000, flush, clock });
    void b.add(1);
    b.flushNow();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    expect(clock.armed).toBe(0);
  });

  it('refuses nonsensical sizes', () => {
    expect(() => new MicroBatcher({ maxBatch: 0, maxDelayMs: 1, flush: async () => [] })).toThrow(RangeError);
    expect(() => new MicroBatcher({ maxBatch: 1, maxDelayMs: -1, flush: async () => [] })).toThrow(
      RangeError,
    );
  });
});
