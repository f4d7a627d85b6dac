import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.js';
import { ModelError } from '../../src/errors/index.js';
import { runCheck } from '../../src/eval/index.js';
import {
  createApp,
  Metrics,
  startServer,
  type Recommender,
  type RunningServer,
} from '../../src/http/index.js';
import { silentLogger } from '../../src/log/index.js';
import { buildService, type Service } from '../../src/serve/index.js';
import { MODELS_DIR, TINY, tinyWorldDir } from '../helpers/tiny-world.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await tinyWorldDir();
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const config = (mode: Config['mode'], extra: Partial<Config['serving']> = {}) =>
  loadConfig(
    {},
    { dataDir, mode, modelsDir: MODELS_DIR, port: 0, host: '127.0.0.1', logLevel: 'silent', serving: extra },
  );

interface PostJson {
  id: number;
  text: string;
  topic: string;
}

describe('the service over the tiny world (real features, models and workers)', () => {
  let svc: Service;
  let someUser: number;
  beforeAll(async () => {
    // A generous deadline: on a busy machine a late model answer would be a fallback, and the
    // worker test below tells the two apart.
    svc = await buildService(config('ab', { deadlineMs: 60_000 }));
    const rows = await svc.db.query<{ user_id: number }>(
      `select user_id from feed_data where action = 'like' group by 1 order by count(*) desc limit 1`,
    );
    someUser = rows[0]!.user_id;
  });
  afterAll(async () => svc?.close());

  const get = (qs: string, headers: Record<string, string> = {}) =>
    svc.app.request(`/post/recommendations/?${qs}`, { headers });

  /** Posts the user liked before `time`, from the raw log. */
  const likedBefore = async (userId: number, time: string) =>
    new Set(
      (
        await svc.db.query<{ post_id: number }>(
          `select post_id from feed_data where action = 'like' and user_id = $1 and "timestamp" < $2`,
          [userId, time],
        )
      ).map((r) => r.post_id),
    );

  it('answers in A/B mode with the group and limit posts described by id, text and topic', async () => {
    const res = await get(`id=${someUser}&time=2021-12-01T10:00:00&limit=7`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { exp_group: string; recommendations: PostJson[] };
    expect(['control', 'test']).toContain(body.exp_group);
    expect(body.recommendations).toHaveLength(7);
    for (const p of body.recommendations) {
      expect(typeof p.id).toBe('number');
      expect(p.text.length).toBeGreaterThan(0);
      expect(p.topic.length).toBeGreaterThan(0);
    }
    expect(new Set(body.recommendations.map((p) => p.id)).size).toBe(7);
  });

  it('defaults to five posts', async () => {
    const body = (await (await get(`id=${someUser}&time=2021-11-01T08:30:00`)).json()) as {
      recommendations: unknown[];
    };
    expect(body.recommendations).toHaveLength(5);
  });

  it('never recommends a post the user liked before the request time', async () => {
    const time = '2021-12-20T12:00:00';
    const liked = await likedBefore(someUser, time);
    expect(liked.size).toBeGreaterThan(10);
    const body = (await (await get(`id=${someUser}&time=${time}&limit=100`)).json()) as {
      recommendations: PostJson[];
    };
    expect(body.recommendations).toHaveLength(100);
    expect(body.recommendations.filter((p) => liked.has(p.id))).toEqual([]);
  });

  it('never offers a liked post in the fallback either (PoolRecommender.fallback behind the real handler)', async () => {
    const time = '2021-12-20T12:00:00';
    const liked = await likedBefore(someUser, time);
    // The exclusion matters only if this user liked posts that are among the most liked.
    const top = (
      await svc.db.query<{ post_id: number }>(
        `select post_id from feed_data where action = 'like' and "timestamp" < $1
         group by post_id order by count(*) desc, post_id limit 100`,
        [time],
      )
    ).map((r) => r.post_id);
    expect(top.filter((p) => liked.has(p)).length).toBeGreaterThan(0);
    // The model is down: every answer is the service's own fallback.
    const r = svc.recommender;
    const modelDown: Recommender = {
      hasUser: (id) => r.hasUser(id),
      rank: () => Promise.reject(new Error('the model is down')),
      fallback: (req) => r.fallback(req),
      post: (id) => r.post(id),
      isReady: () => r.isReady(),
    };
    const app = createApp({
      config: config('ab'),
      recommender: modelDown,
      exposures: { log: () => undefined },
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger,
    });
    const res = await app.request(`/post/recommendations/?id=${someUser}&time=${time}&limit=100`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('fallback-popular');
    const body = (await res.json()) as { recommendations: PostJson[] };
    expect(body.recommendations).toHaveLength(100);
    expect(body.recommendations.filter((p) => liked.has(p.id))).toEqual([]);
  });

  it('answers an unknown user with 404 and a malformed time with 422', async () => {
    expect((await get('id=199&time=2021-12-01T10:00:00')).status).toBe(404);
    const bad = await get(`id=${someUser}&time=yesterday`);
    expect(bad.status).toBe(422);
    expect(JSON.stringify(await bad.json())).toContain('time');
  });

  it('replaces a ranking worker that dies and keeps answering from the model', async () => {
    const before = svc.pool.piscina.threads.map((t) => t.threadId);
    await svc.pool.piscina.threads[0]!.terminate();
    // A 200 alone proves nothing: the fallback answers 200 too. Wait until the replacement has
    // loaded and warmed its models, then every answer must come from a model.
    const end = Date.now() + 30_000;
    while (!svc.pool.whole && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(svc.pool.whole).toBe(true);
    const after = svc.pool.piscina.threads.map((t) => t.threadId);
    expect(after).toHaveLength(before.length);
    expect(after.filter((id) => !before.includes(id))).toHaveLength(1);
    // Enough concurrent requests that both workers, the new one too, take batches.
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => get(`id=${someUser}&time=2021-12-02T10:00:00`)),
    );
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toMatch(/^(control|test)\/v\d+$/);
      expect(((await res.json()) as { recommendations: unknown[] }).recommendations).toHaveLength(5);
    }
  });
});

describe.each(['control', 'test'] as const)('single-model mode %s', (mode) => {
  let svc: Service;
  let server: RunningServer;
  let cfg: Config;
  beforeAll(async () => {
    // A generous deadline: the comparison is of the model path, never the fallback on a busy machine.
    cfg = config(mode, { deadlineMs: 60_000 });
    svc = await buildService(cfg);
    server = await startServer(svc.app, cfg, { signals: [] });
  });
  afterAll(async () => {
    await server?.close();
    await svc?.close();
  });

  it('answers with the bare list, as the original services did', async () => {
    const someUser = (
      await svc.db.query<{ user_id: number }>('select min(user_id) user_id from user_data')
    )[0]!.user_id;
    const res = await svc.app.request(
      `/post/recommendations/?id=${someUser}&time=2021-10-15T20:00:00&limit=3`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as PostJson[];
    expect(Array.isArray(body)).toBe(true);
    expect(body).toHaveLength(3);
  });

  it('scores the same Hitrate over HTTP as the in-process checker on the same requests', async () => {
    const common = {
      seed: 99,
      requests: 150,
      modelsDir: MODELS_DIR,
      candidates: cfg.serving.candidates,
      rankAll: cfg.serving.rankAll,
    };
    const http = await runCheck(undefined, {
      ...common,
      world: TINY,
      policies: [],
      url: `http://127.0.0.1:${server.port}`,
    });
    const inProcess = await runCheck(svc.db, { ...common, policies: [mode] });
    expect(http.policies.service!.hitrate).toBeCloseTo(inProcess.policies[mode]!.hitrate, 9);
    expect(http.policies.service!.requests).toBe(150);
  });
});

describe('start-up with a wrong model', () => {
  it('refuses to start when a model is missing, naming what to do', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'feedrec-models-'));
    try {
      const err = await buildService({ ...config('control'), modelsDir: empty }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as Error).message).toMatch(/control model.*npm run train/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("refuses to start when a model's feature list differs from the code's", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-models-'));
    try {
      cpSync(path.join(MODELS_DIR, 'control'), path.join(dir, 'control'), { recursive: true });
      const [version] = readdirSync(path.join(dir, 'control')).sort().slice(-1);
      const card = path.join(dir, 'control', version!, 'meta.json');
      const meta = JSON.parse(readFileSync(card, 'utf8')) as { feature_names: string[] };
      meta.feature_names[2] = 'shoe_size';
      writeFileSync(card, JSON.stringify(meta));
      const err = await buildService({ ...config('control'), modelsDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as Error).message).toContain('shoe_size');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 4096), /is \d+ bytes, but its card .* says \d+/],
    ['overwritten', (b: Buffer) => Buffer.from(b).fill(0x5a, 64, b.length - 64), /.*/],
  ] as const)('refuses to start when model.onnx is %s, naming the file', async (_, damage, why) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-models-'));
    try {
      cpSync(path.join(MODELS_DIR, 'control'), path.join(dir, 'control'), { recursive: true });
      const [version] = readdirSync(path.join(dir, 'control')).sort().slice(-1);
      const file = path.join(dir, 'control', version!, 'model.onnx');
      writeFileSync(file, damage(readFileSync(file)));
      const err = await buildService({ ...config('control'), modelsDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(why);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
