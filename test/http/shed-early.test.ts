import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { Metrics, createApp, startServer, type RunningServer } from '../../src/http/index.js';
import type { HoldClock } from '../../src/http/shed-hold.js';
import { silentLogger } from '../../src/log/index.js';
import { fixtureRecommender } from '../../bench/fixture-recommender.js';
import { metricValue } from './setup.js';

const config = loadConfig({}, { host: '127.0.0.1', port: 0, mode: 'ab' });
const noHoldConfig = loadConfig({ FEEDREC_SHED_HOLD_MS: '0' }, { host: '127.0.0.1', port: 0, mode: 'ab' });
/** Holds only for connections refused again within Retry-After (FEEDREC_SHED_HOLD_ON=repeat). */
const repeatConfig = loadConfig(
  { FEEDREC_SHED_HOLD_ON: 'repeat' },
  { host: '127.0.0.1', port: 0, mode: 'ab' },
);
/** A hold clock that never fires by itself: the test releases held connections. */
function heldUntilReleased() {
  const due: (() => void)[] = [];
  const clock: HoldClock & { t: number } = { t: 0, now: () => clock.t, setTimer: (fn) => due.push(fn) };
  return { clock, release: () => due.splice(0).forEach((fn) => fn()), timers: () => due.length };
}

/** GET on one keep-alive connection of `agent`: the status, and whether the answer has come yet. */
function getOn(agent: http.Agent, url: string) {
  const state: { status?: number } = {};
  const done = new Promise<number>((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve((state.status = res.statusCode!)));
      })
      .on('error', reject);
  });
  return { done, answered: () => state.status !== undefined };
}

const REC = '/post/recommendations/?id=7&time=2021-12-01T10:00:00';

describe('shedding before the request is read (a real Node server)', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  async function start(holdClock?: HoldClock, cfg = config) {
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
      config: cfg,
      recommender,
      exposures: { log: () => {} },
      metrics,
      logger: silentLogger,
      holdClock,
    });
    running = await startServer(app, cfg, { signals: [] });
    const url = (path: string) => `http://127.0.0.1:${running!.port}${path}`;
    return {
      url,
      metrics,
      ranked: () => ranked,
      refuse: (v: boolean) => (admitting = !v),
    };
  }

  it('answers 503 + Retry-After with the JSON error at once, with no model call, when the queue refuses', async () => {
    // Holds off: the answers, not the holds, are under test (fetch reuses its connection).
    const s = await start(undefined, noHoldConfig);
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

  it('does not read a refused connection again until the queue has room', async () => {
    const hold = heldUntilReleased();
    const s = await start(hold.clock);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const other = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      s.refuse(true);
      expect(await getOn(agent, s.url(REC)).done).toBe(503);
      expect(hold.timers()).toBe(1);
      expect(await metricValue(s.metrics, 'feedrec_held_connections')).toBe(1);

      // Held: its next request is not read, and a tick while the queue is still full keeps it so.
      const held = getOn(agent, s.url(REC));
      hold.release();
      // Another connection is read as usual meanwhile.
      expect(await getOn(other, s.url(REC)).done).toBe(503);
      await new Promise((r) => setTimeout(r, 100));
      expect(held.answered()).toBe(false);

      // Room in the queue: the next tick releases it and its request is read and ranked.
      s.refuse(false);
      hold.release();
      expect(await held.done).toBe(200);
      expect(s.ranked()).toBe(1);
      expect(await metricValue(s.metrics, 'feedrec_connection_holds_total')).toBe(2);
    } finally {
      agent.destroy();
      other.destroy();
    }
  });

  it('reads a held connection again once its Retry-After has passed, room or not', async () => {
    const hold = heldUntilReleased();
    const s = await start(hold.clock);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      s.refuse(true);
      expect(await getOn(agent, s.url(REC)).done).toBe(503);
      const next = getOn(agent, s.url(REC));
      hold.clock.t = 999;
      hold.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(next.answered()).toBe(false);
      hold.clock.t = 1000; // the refusal's Retry-After: 1 s
      hold.release();
      expect(await next.done).toBe(503); // read, and refused: the queue is still full
      expect(await metricValue(s.metrics, 'feedrec_held_connections')).toBe(1); // held anew
    } finally {
      agent.destroy();
    }
  });

  it('with holds on repeat only, reads past a first refusal and holds a connection refused again within Retry-After', async () => {
    const hold = heldUntilReleased();
    const s = await start(hold.clock, repeatConfig);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      s.refuse(true);
      expect(await getOn(agent, s.url(REC)).done).toBe(503);
      expect(hold.timers()).toBe(0); // a first refusal: the client may not know yet
      hold.clock.t = 10;
      expect(await getOn(agent, s.url(REC)).done).toBe(503); // at once: it ignored Retry-After
      expect(hold.timers()).toBe(1);
      const held = getOn(agent, s.url(REC));
      hold.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(held.answered()).toBe(false);
      s.refuse(false);
      hold.release();
      expect(await held.done).toBe(200);
      expect(await metricValue(s.metrics, 'feedrec_connection_holds_total')).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('with holds on repeat only, never holds a connection whose client waits out Retry-After', async () => {
    const hold = heldUntilReleased();
    const s = await start(hold.clock, repeatConfig);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      s.refuse(true);
      for (let i = 0; i < 4; i++) {
        hold.clock.t = i * 1000;
        expect(await getOn(agent, s.url(REC)).done).toBe(503);
      }
      expect(hold.timers()).toBe(0);
      expect(await metricValue(s.metrics, 'feedrec_connection_holds_total')).toBe(0);
    } finally {
      agent.destroy();
    }
  });
});
