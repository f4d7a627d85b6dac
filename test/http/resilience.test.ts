import { describe, expect, it } from 'vitest';
import type { RankResult } from '../../src/http/index.js';
import { REC, makeApp, metricValue } from './setup.js';

/** A model call the test finishes by hand. */
function deferred() {
  const pending: ((r: RankResult) => void)[] = [];
  const rank = () => new Promise<RankResult>((resolve) => pending.push(resolve));
  return { pending, rank };
}

describe('bounded ranking queue', () => {
  it('answers 503 with Retry-After when queueLimit model calls are in flight, and counts it', async () => {
    const slow = deferred();
    const { get, metrics, logged } = makeApp(
      { serving: { queueLimit: 2, deadlineMs: 60_000 } },
      { rank: slow.rank },
    );
    const first = [get(REC), get(REC)];
    await expect.poll(() => slow.pending.length).toBe(2);
    const shed = await get(REC);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect((await shed.json()).error).toMatch(/overloaded/);
    expect(await metricValue(metrics, 'feedrec_shed_requests_total')).toBe(1);
    // Once the queue drains, requests are admitted again.
    for (const r of slow.pending) r({ postIds: [1, 2, 3], modelVersion: 'm' });
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    const again = get(REC);
    await expect.poll(() => slow.pending.length).toBe(3);
    slow.pending[2]!({ postIds: [4], modelVersion: 'm' });
    expect((await again).status).toBe(200);
    expect(logged).toHaveLength(3);
  });
});

describe('request deadline', () => {
  it('serves the fallback when the model misses the deadline, counts it and logs fallback=true', async () => {
    const slow = deferred();
    const { get, metrics, logger, logged } = makeApp(
      { mode: 'ab', serving: { deadlineMs: 20 } },
      { rank: slow.rank },
    );
    const res = await get(REC);
    expect(res.status).toBe(200);
    const body = await res.json();
    // The fixture's fallback is the most popular posts: ascending ids minus the user's likes.
    expect(body.recommendations.map((p: { id: number }) => p.id)).toEqual([1, 2, 3, 4, 5]);
    expect(
      await metricValue(metrics, 'feedrec_fallbacks_total', { reason: 'deadline', group: body.exp_group }),
    ).toBe(1);
    expect(logger.entries.find((e) => e.msg === 'request')).toMatchObject({ fallback: true, status: 200 });
    expect(logged[0]).toMatchObject({ modelVersion: 'fallback-popular' });

    // The model call was not cancelled; its late answer is dropped (and counted), nothing else.
    slow.pending[0]!({ postIds: [9, 9, 9], modelVersion: 'late' });
    await expect.poll(() => metricValue(metrics, 'feedrec_late_model_results_total')).toBe(1);
    expect(logged).toHaveLength(1);
  });

  it('keeps a late model call counted against the queue until it finishes', async () => {
    const slow = deferred();
    const { get } = makeApp({ serving: { deadlineMs: 10, queueLimit: 1 } }, { rank: slow.rank });
    expect((await get(REC)).status).toBe(200); // fallback
    expect((await get(REC)).status).toBe(503); // the pool is still busy with the first call
    slow.pending[0]!({ postIds: [1], modelVersion: 'm' });
    await new Promise((r) => setImmediate(r));
    expect((await get(REC)).status).toBe(200);
  });

  it('serves the fallback when the model fails, and counts it as an error fallback', async () => {
    const { get, metrics } = makeApp(
      { mode: 'control' },
      { rank: () => Promise.reject(new Error('worker died')) },
    );
    const res = await get(REC);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveLength(5);
    expect(await metricValue(metrics, 'feedrec_fallbacks_total', { reason: 'error', group: 'control' })).toBe(
      1,
    );
  });
});
