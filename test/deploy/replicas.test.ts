import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { buildService, type Service } from '../../src/serve/index.js';
import { writeWorld } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';
import { MODELS_DIR, TINY } from '../helpers/tiny-world.js';
import { DEPLOY_DIR, readEnvFile, readManifests } from './manifests.js';

const postgres = dbVariants.find((v) => v.name === 'postgres')!;

// Two replicas as deployed: one configured from deploy/feedrec.env (deploy/local.sh), the other
// from the Kubernetes ConfigMap, both over one Postgres. A replica holds no state another needs,
// so for the same request they must give the same group, the same posts and the same version.
describe.skipIf(postgres.skip)('replicas over one Postgres', () => {
  let fresh: Awaited<ReturnType<typeof postgres.fresh>>;
  const replicas: Service[] = [];
  let users: number[];

  beforeAll(async () => {
    fresh = await postgres.fresh();
    await writeWorld(fresh.db, TINY);
    await buildFeatures(fresh.db);
    users = (await fresh.db.query<{ user_id: number }>('select user_id from user_data order by 1')).map(
      (r) => r.user_id,
    );
    const configMap = readManifests().find((m) => m.doc.kind === 'ConfigMap')!.doc.data as Record<
      string,
      string
    >;
    for (const env of [readEnvFile(path.join(DEPLOY_DIR, 'feedrec.env')), configMap]) {
      const cfg = loadConfig(
        { ...env, DATABASE_URL: fresh.url, FEEDREC_MODELS_DIR: MODELS_DIR },
        // The model path every time: a fallback under a busy test machine is not what is compared.
        { logLevel: 'silent', serving: { deadlineMs: 60_000 } },
      );
      replicas.push(await buildService(cfg));
    }
  });
  afterAll(async () => {
    for (const r of replicas) await r.close();
    await fresh?.drop();
  });

  it('gives every user the same group, posts and model version from each replica', async () => {
    expect(users.length).toBeGreaterThan(100);
    const answer = async (svc: Service, user: number) => {
      const res = await svc.app.request(`/post/recommendations/?id=${user}&time=2021-12-05T18:30:00`);
      expect(res.status).toBe(200);
      return { version: res.headers.get('x-model-version'), body: await res.json() };
    };
    const groups = new Set<string>();
    for (const user of users) {
      const [a, b] = await Promise.all(replicas.map((r) => answer(r, user)));
      expect(b, `user ${user}`).toEqual(a);
      groups.add((a!.body as { exp_group: string }).exp_group);
    }
    expect([...groups].sort()).toEqual(['control', 'test']);
  });
});
