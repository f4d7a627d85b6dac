import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { buildService, type Service } from '../../src/serve/index.js';
import { copyModels, publishVersion } from '../helpers/models.js';
import { tinyWorldDir } from '../helpers/tiny-world.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

interface Answer {
  status: number;
  version: string | null;
  group: string;
  ids: number[];
}

describe('reload without downtime (tiny world, real workers)', () => {
  let dataDir: string;
  let modelsDir: string;
  let svc: Service;
  let users: number[];

  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    modelsDir = copyModels();
    const cfg = loadConfig(
      {},
      {
        dataDir,
        modelsDir,
        mode: 'ab',
        logLevel: 'silent',
        adminToken: ADMIN_TOKEN,
        // The model path every time: a fallback would hide a request the swap failed.
        serving: { workers: 1, deadlineMs: 60_000, exposureFlushMs: 10 },
      },
    );
    svc = await buildService(cfg);
    users = (
      await svc.db.query<{ user_id: number }>('select user_id from user_data order by 1 limit 40')
    ).map((r) => r.user_id);
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(modelsDir, { recursive: true, force: true });
  });

  const ask = async (user: number, time = '2021-12-01T10:00:00'): Promise<Answer> => {
    const res = await svc.app.request(`/post/recommendations/?id=${user}&time=${time}`);
    const body = (await res.json()) as { exp_group: string; recommendations: { id: number }[] };
    return {
      status: res.status,
      version: res.headers.get('x-model-version'),
      group: body.exp_group,
      ids: body.recommendations?.map((p) => p.id),
    };
  };
  const reload = (token = ADMIN_TOKEN) =>
    svc.app.request('/admin/reload', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const metrics = async () => (await svc.app.request('/metrics')).text();

  it('names the serving version in every answer', async () => {
    for (const u of users.slice(0, 10)) {
      const a = await ask(u);
      expect(a.version).toBe(`${a.group}/v1`);
    }
    expect(await metrics()).toContain('feedrec_model_info{model="test/v1"} 1');
  });

  it('refuses the admin route without the token', async () => {
    expect((await reload('wrong-token-wrong-token')).status).toBe(401);
    expect((await svc.app.request('/admin/reload', { method: 'POST' })).status).toBe(401);
  });

  it('swaps to a new version while requests keep flowing: every answer 200, old or new, never a gap', async () => {
    const old = svc.recommender.current;
    publishVersion(modelsDir, 'test', 'v1', 'v2');
    const answers: Answer[] = [];
    let done = false;
    const traffic = Array.from({ length: 6 }, async (_, k) => {
      for (let i = k; !done; i += 6) answers.push(await ask(users[i % users.length]!));
    });
    let res: Response;
    try {
      res = await reload();
      // Keep asking a little after the swap, so answers from both generations are in the sample.
      const after = answers.length;
      await expect.poll(() => answers.length - after, { timeout: 30_000 }).toBeGreaterThan(30);
    } finally {
      // Whatever failed above, the traffic loops must end, or the file never finishes.
      done = true;
      await Promise.all(traffic);
    }

    expect(res.status).toBe(200);
    const report = (await res.json()) as { models: string[]; previous: string[]; generation: number };
    expect(report).toMatchObject({
      generation: 2,
      previous: ['control/v1', 'test/v1'],
      models: ['control/v1', 'test/v2'],
    });
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const versions = new Set(answers.map((a) => a.version));
    expect([...versions].sort()).toEqual(['control/v1', 'test/v1', 'test/v2']);
    for (const a of answers) expect(a.version!.startsWith(`${a.group}/`)).toBe(true);
    // Once swapped, only the new version answers the test group.
    for (const u of users) {
      const a = await ask(u);
      expect(a.version).toBe(a.group === 'test' ? 'test/v2' : 'control/v1');
    }
    // The old generation stops its workers once its last batch is done.
    await svc.reloader.settled();
    expect(old.pool.piscina.threads).toHaveLength(0);
    await expect(old.pool.rank('test', { ui: 0, tMs: 0, limit: 1 })).rejects.toThrow(/closing/);
    const text = await metrics();
    expect(text).toContain('feedrec_model_info{model="test/v2"} 1');
    expect(text).not.toContain('feedrec_model_info{model="test/v1"}');
    expect(text).toContain('feedrec_reloads_total{result="ok"} 1');
  });

  it('records the version that ranked each exposure', async () => {
    const testUser = users.find((u) => svc.recommender.hasUser(u))!;
    const a = await ask(testUser, '2021-12-03T09:00:00');
    await expect
      .poll(
        async () =>
          (
            await svc.db.query<{ model_version: string }>(
              `select model_version from exposures where user_id = $1 and request_time = '2021-12-03 09:00:00'`,
              [testUser],
            )
          ).map((r) => r.model_version),
        { timeout: 5_000 },
      )
      .toEqual([a.version]);
  });

  it('keeps the old models serving when the newest version does not match the feature code', async () => {
    publishVersion(modelsDir, 'test', 'v2', 'v3', (card) => {
      card.feature_names[4] = 'shoe_size';
    });
    const res = await reload();
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: string; serving: string[] };
    expect(body.error).toMatch(/reload refused: .*test\/v3.*shoe_size/);
    expect(body.serving).toEqual(['control/v1', 'test/v2']);
    for (const u of users.slice(0, 10)) {
      const a = await ask(u);
      expect(a.status).toBe(200);
      expect(a.version).toBe(a.group === 'test' ? 'test/v2' : 'control/v1');
    }
    const text = await metrics();
    expect(text).toContain('feedrec_reloads_total{result="refused"} 1');
    expect(text).toContain('feedrec_model_info{model="test/v2"} 1');
    rmSync(`${modelsDir}/test/v3`, { recursive: true });
  });

  it('serves a fresh feature snapshot after a reload: a like added to the log is not recommended again', async () => {
    const user = users[0]!;
    const time = '2021-12-10T12:00:00';
    const top = (await ask(user, time)).ids[0]!;
    // Loaded in bulk, as an import would (the live follower skips bulk loads: only a new snapshot
    // brings these rows), so what this shows is the reload's snapshot, not live following.
    await svc.db.transaction(async (tx) => {
      await tx.exec(`SET LOCAL feedrec.bulk_load = 'on'`);
      await tx.query(
        `insert into feed_data ("timestamp", user_id, post_id, action, target) values
           ('2021-12-09 12:00:00', $1, $2, 'view', 1), ('2021-12-09 12:01:00', $1, $2, 'like', 0)`,
        [user, top],
      );
    });
    await buildFeatures(svc.db);
    // Until the reload the service ranks from the snapshot it loaded.
    expect((await ask(user, time)).ids).toContain(top);
    expect((await reload()).status).toBe(200);
    expect((await ask(user, time)).ids).not.toContain(top);
  });
});
