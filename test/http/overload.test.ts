import { describe, expect, it } from 'vitest';
import { DeadlineExceededError, OverloadedError } from '../../src/errors/index.js';
import { REC, makeApp, metricValue } from './setup.js';

describe('admission errors from the ranking queue', () => {
  it('answers a request the queue sheds with 503 and Retry-After, not a fallback', async () => {
    const { get, metrics, logged } = makeApp({}, { rank: () => Promise.reject(new OverloadedError()) });
    const res = await get(REC);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).error).toMatch(/overloaded/);
    expect(await metricValue(metrics, 'feedrec_shed_requests_total')).toBe(1);
    expect(logged).toHaveLength(0);
  });

  it('serves the fallback, counted as a deadline fallback, when the queue dropped the request at its deadline', async () => {
    const { get, metrics } = makeApp(
      { mode: 'control' },
      { rank: () => Promise.reject(new DeadlineExceededError()) },
    );
    const res = await get(REC);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('fallback-popular');
    expect(
      await metricValue(metrics, 'feedrec_fallbacks_total', { reason: 'deadline', group: 'control' }),
    ).toBe(1);
    expect(await metricValue(metrics, 'feedrec_fallbacks_total', { reason: 'error', group: 'control' })).toBe(
      0,
    );
  });

  it('hands the ranker a deadline deadlineMs after the request arrived', async () => {
    const { get, recommender } = makeApp({ serving: { deadlineMs: 250 } });
    const before = performance.now();
    await get(REC);
    const after = performance.now();
    const { deadline } = recommender.rankCalls[0]!;
    expect(deadline).toBeGreaterThanOrEqual(before + 250);
    expect(deadline).toBeLessThanOrEqual(after + 250);
  });

  it('names the ranker of every answer in X-Model-Version', async () => {
    const { get } = makeApp({ mode: 'control' });
    expect((await get(REC)).headers.get('x-model-version')).toBe('fixture-control-v1');
  });
});
