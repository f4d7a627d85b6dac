import { describe, expect, it } from 'vitest';
import { assignGroup } from '../../src/ab/index.js';
import { REC, makeApp } from './setup.js';

describe('GET /post/recommendations/', () => {
  it('answers {exp_group, recommendations} in ab mode with the hashed group, and logs an exposure', async () => {
    const { get, logged, config } = makeApp({ mode: 'ab' });
    const res = await get(REC);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await res.json();
    const group = assignGroup(config.ab.salt, 7, config.ab.testShare);
    expect(body.exp_group).toBe(group);
    expect(body.recommendations).toHaveLength(5);
    for (const p of body.recommendations) expect(Object.keys(p).sort()).toEqual(['id', 'text', 'topic']);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      userId: 7,
      group,
      modelVersion: `fixture-${group}-v1`,
      postIds: body.recommendations.map((p: { id: number }) => p.id),
      requestId: res.headers.get('x-request-id'),
    });
    expect(logged[0]!.requestTime.toISOString()).toBe('2021-12-01T10:00:00.000Z');
  });

  it('puts users in both groups in ab mode', async () => {
    const { get } = makeApp({ mode: 'ab' });
    const groups = new Set<string>();
    for (let u = 1; u <= 20; u++) {
      groups.add(
        (await (await get(`/post/recommendations/?id=${u}&time=2021-12-01T10:00:00`)).json()).exp_group,
      );
    }
    expect([...groups].sort()).toEqual(['control', 'test']);
  });

  it.each(['control', 'test'] as const)(
    'answers the bare list in %s mode and logs no exposure',
    async (mode) => {
      const { get, logged, recommender } = makeApp({ mode });
      const res = await get(REC);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(Array.isArray(body)).toBe(true);
      expect(body).toHaveLength(5);
      expect(body[0]).toEqual({
        id: expect.any(Number),
        text: expect.any(String),
        topic: expect.any(String),
      });
      expect(recommender.rankCalls[0]!.group).toBe(mode);
      expect(logged).toHaveLength(0);
    },
  );

  it('serves the path without the trailing slash too', async () => {
    const { get } = makeApp({ mode: 'control' });
    expect((await get('/post/recommendations?id=7&time=2021-12-01T10:00:00')).status).toBe(200);
  });

  it('honours limit and passes request fields to the recommender', async () => {
    const { get, recommender } = makeApp({ mode: 'control' });
    const body = await (
      await get('/post/recommendations/?id=7&time=2021-12-01T10:00:00.123456&limit=12')
    ).json();
    expect(body).toHaveLength(12);
    expect(recommender.rankCalls[0]).toMatchObject({
      userId: 7,
      limit: 12,
      group: 'control',
      timeMs: Date.UTC(2021, 11, 1, 10, 0, 0, 123),
    });
  });

  it.each([
    '2021-12-01T10:00:00',
    '2021-12-01T10:00:00.5',
    '2021-12-01T10:00:00.123456',
    '2021-12-01T10:00:00Z',
    '2021-12-01T12:00:00+02:00',
    '2021-12-01 10:00:00',
    '2021-12-01T10:00',
  ])('accepts time=%s as 2021-12-01 10:00 UTC', async (time) => {
    const { get, recommender } = makeApp({ mode: 'control' });
    const res = await get(`/post/recommendations/?id=7&time=${encodeURIComponent(time)}`);
    expect(res.status).toBe(200);
    expect(Math.floor(recommender.rankCalls[0]!.timeMs / 1000)).toBe(Date.UTC(2021, 11, 1, 10) / 1000);
  });

  it.each([
    ['missing id', '?time=2021-12-01T10:00:00', ['id']],
    ['id not a number', '?id=abc&time=2021-12-01T10:00:00', ['id']],
    ['id zero', '?id=0&time=2021-12-01T10:00:00', ['id']],
    ['id negative', '?id=-3&time=2021-12-01T10:00:00', ['id']],
    ['id fractional', '?id=1.5&time=2021-12-01T10:00:00', ['id']],
    ['missing time', '?id=7', ['time']],
    ['time not a date', '?id=7&time=yesterday', ['time']],
    ['time impossible date', '?id=7&time=2021-02-30T10:00:00', ['time']],
    ['limit zero', '?id=7&time=2021-12-01T10:00:00&limit=0', ['limit']],
    ['limit too big', '?id=7&time=2021-12-01T10:00:00&limit=101', ['limit']],
    ['limit not a number', '?id=7&time=2021-12-01T10:00:00&limit=five', ['limit']],
    ['everything wrong', '?id=x&time=y&limit=0', ['id', 'time', 'limit']],
  ])('answers 422 naming the parameter for %s', async (_name, query, names) => {
    const { get, recommender, logged } = makeApp();
    const res = await get(`/post/recommendations/${query}`);
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.error).toEqual(expect.any(String));
    expect(body.issues.map((i: { path: string }) => i.path)).toEqual(names);
    for (const n of names) expect(body.error).toContain(n);
    expect(recommender.rankCalls).toHaveLength(0);
    expect(logged).toHaveLength(0);
  });

  it.each(['ab', 'control'] as const)(
    'writes in %s mode exactly the JSON a serialiser would, with texts that need escaping and after a text changed',
    async (mode) => {
      const { get, recommender } = makeApp({ mode });
      // A text with quotes, a backslash, a newline and non-ASCII letters, on every post.
      const posts = new Map(
        Array.from({ length: 50 }, (_, i) => [
          i + 1,
          { id: i + 1, text: `"q" \\ line\nzwei — ё ${i + 1}`, topic: 'movie' },
        ]),
      );
      recommender.post = (id) => posts.get(id);
      const first = await get(REC);
      const text = await first.text();
      expect(first.headers.get('content-type')).toBe('application/json');
      expect(text).toBe(JSON.stringify(JSON.parse(text)));
      const items = (mode === 'ab' ? JSON.parse(text).recommendations : JSON.parse(text)) as {
        text: string;
      }[];
      expect(items[0]!.text).toMatch(/^"q" \\ line\nzwei — ё \d+$/);
      if (mode === 'ab') expect(Object.keys(JSON.parse(text))).toEqual(['exp_group', 'recommendations']);

      // A new catalog object for a post (what a reload brings) is served with its new text.
      for (const [id, p] of posts) posts.set(id, { ...p, text: `new ${id}` });
      const again = await (await get(REC)).text();
      const itemsAgain = (mode === 'ab' ? JSON.parse(again).recommendations : JSON.parse(again)) as {
        id: number;
        text: string;
      }[];
      for (const p of itemsAgain) expect(p.text).toBe(`new ${p.id}`);
    },
  );

  it('answers 404 with a JSON error for an unknown user', async () => {
    const { get, logged } = makeApp();
    const res = await get('/post/recommendations/?id=999999&time=2021-12-01T10:00:00');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'unknown user id 999999' });
    expect(logged).toHaveLength(0);
  });

  it('answers 500 JSON, without crashing, when the recommender throws something unexpected', async () => {
    const { get, logger } = makeApp({}, {}, (r) => ({
      ...r,
      hasUser: () => {
        throw new TypeError('boom');
      },
    }));
    const res = await get(REC);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal error' });
    expect(logger.entries.some((e) => e.level === 'error' && e.msg === 'unhandled error')).toBe(true);
    // The app keeps serving.
    expect((await get('/healthz')).status).toBe(200);
  });

  it('still answers when the exposure sink throws, and logs the failure', async () => {
    const { app, logger, get } = makeApp({ mode: 'ab' });
    app.serving.deps.exposures.log = () => {
      throw new Error('sink broken');
    };
    expect((await get(REC)).status).toBe(200);
    expect(logger.entries.some((e) => e.msg === 'exposure logging failed')).toBe(true);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { get } = makeApp();
    const res = await get('/nope');
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatch(/no route/);
  });
});

describe('request logs', () => {
  it('writes one structured line per request and echoes X-Request-Id', async () => {
    const { get, logger, config } = makeApp({ mode: 'ab' });
    const res = await get(REC, { 'X-Request-Id': 'abc-123' });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const lines = logger.entries.filter((e) => e.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      requestId: 'abc-123',
      method: 'GET',
      path: '/post/recommendations/',
      status: 200,
      userId: 7,
      group: assignGroup(config.ab.salt, 7, config.ab.testShare),
      fallback: false,
    });
    expect(lines[0]!.ms).toEqual(expect.any(Number));
  });

  it('generates a request id when none (or a malformed one) is given', async () => {
    const { get } = makeApp();
    const a = (await get('/healthz')).headers.get('x-request-id');
    const b = (await get('/healthz', { 'X-Request-Id': 'bad id with spaces\u0001' })).headers.get(
      'x-request-id',
    );
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });
});
