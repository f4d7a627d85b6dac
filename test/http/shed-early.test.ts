import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { Metrics, createApp, startServer, type RunningServer } from '../../src/http/index.js';
import { silentLogger } from '../../src/log/index.js';
import { fixtureRecommender } from '../../bench/fixture-recommender.js';
import { metricValue } from './setup.js';

const config = loadConfig({}, { host: '127.0.0.1', port: 0, mode: 'ab' });
const REC = '/post/recommendations/?id=7&time=2021-12-01T10:00:00';

describe('shedding before the request is read (a real Node server)', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  async function start() {
    let admitting = true;
    let ranked = 0;
    const recommender = fixtureRecommender();
    const rank = recommender.rank.bind(recommender);
    recommender.rank = (req) => {
      ranked += 1;
      return rank(req);
    };
    recommender.admits = () => admitting;
    const metrics = new Metrics({ defaultMetrics: false });
    const app = createApp({
      config,
      recommender,
      exposures: { log: () => {} },
      metrics,
      logger: silentLogger,
    });
    running = await startServer(app, config, { signals: [] });
    const url = (path: string) => `http://127.0.0.1:${running!.port}${path}`;
    return {
      url,
      metrics,
      ranked: () => ranked,
      refuse: (v: boolean) => (admitting = !v),
    };
  }

  it('answers 503 + Retry-After with the JSON error at once, with no model call, when the queue refuses', async () => {
    const s = await start();
    expect((await fetch(s.url(REC))).status).toBe(200);
    expect(s.ranked()).toBe(1);

    s.refuse(true);
    for (const path of [
      REC,
      '/post/recommendations?id=7&time=2021-12-01T10:00:00',
      '/post/recommendations/',
    ]) {
      const res = await fetch(s.url(path), { headers: { 'x-request-id': 'req-1234' } });
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.headers.get('x-request-id')).toBe('req-1234');
      expect(await res.json()).toEqual({ error: 'service overloaded, retry later' });
    }
    const head = await fetch(s.url(REC), { method: 'HEAD' });
    expect(head.status).toBe(503);
    expect(s.ranked()).toBe(1);
    expect(await metricValue(s.metrics, 'feedrec_shed_requests_total')).toBe(4);
    expect(await metricValue(s.metrics, 'feedrec_queue_drops_total', { reason: 'admission' })).toBe(4);
    // In the latency histogram like any answer (bench/overload.ts reads the share within 5 ms).
    const text = await s.metrics.text();
    expect(text).toMatch(
      /feedrec_http_request_duration_seconds_count\{route="\/post\/recommendations",status="503",group="none"\} 4/,
    );

    s.refuse(false);
    expect((await fetch(s.url(REC))).status).toBe(200);
    expect(s.ranked()).toBe(2);
  });

  it('leaves every other route and method to the app while refusing', async () => {
    const s = await start();
    s.refuse(true);
    expect((await fetch(s.url('/healthz'))).status).toBe(200);
    expect((await fetch(s.url('/readyz'))).status).toBe(200);
    const post = await fetch(s.url(REC), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // A path that only starts like the route is not the route.
    expect((await fetch(s.url('/post/recommendationsX?id=7'))).status).toBe(404);
    expect(s.ranked()).toBe(0);
  });
});
