import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { RankTask, RankTaskResult } from '../../src/ranking/protocol.js';
import { buildService, type Service } from '../../src/serve/index.js';
import { MODELS_DIR, tinyWorldDir } from '../helpers/tiny-world.js';

describe('ranking workers under deadlines (real workers, tiny world)', () => {
  let dataDir: string;
  let svc: Service;
  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    svc = await buildService(
      loadConfig({}, { dataDir, mode: 'ab', modelsDir: MODELS_DIR, port: 0, logLevel: 'silent' }),
    );
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('does no model work for a request of a batch whose deadline passed before the batch started', async () => {
    const now = performance.timeOrigin + performance.now();
    const req = { ui: 0, tMs: Date.UTC(2021, 11, 1, 10), limit: 5 };
    const run = (deadlines: number[]) =>
      svc.pool.piscina.run({
        kind: 'rank',
        group: 'control',
        reqs: deadlines.map(() => req),
        deadlines,
      } satisfies RankTask) as Promise<RankTaskResult>;
    const both = await run([now + 60_000, now + 60_000]);
    const mixed = await run([now - 1, now + 60_000]);
    expect(mixed.postIds[0]).toBeNull();
    expect(mixed.postIds[1]).toEqual(both.postIds[1]);
    expect(mixed.rows * 2).toBe(both.rows); // only the live request's candidates were scored
    const none = await run([now - 1]);
    expect(none).toMatchObject({ postIds: [null], rows: 0, modelMs: 0 });
  });

  it('names the model version that ranked an answer in X-Model-Version', async () => {
    const users = await svc.db.query<{ user_id: number }>('select user_id from user_data order by 1 limit 1');
    const res = await svc.app.request(
      `/post/recommendations/?id=${users[0]!.user_id}&time=2021-12-01T10:00:00`,
    );
    expect(res.status).toBe(200);
    const { exp_group } = (await res.json()) as { exp_group: string };
    expect(res.headers.get('x-model-version')).toMatch(new RegExp(`^${exp_group}/v\\d+`));
  });
});
