import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFeatures } from '../../src/features/index.js';
import { writeWorld } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';
import { copyModels, publishVersion } from '../helpers/models.js';
import { TINY } from '../helpers/tiny-world.js';

const postgres = dbVariants.find((v) => v.name === 'postgres')!;
const hasHaproxy = spawnSync('sh', ['-c', 'command -v haproxy']).status === 0;
if (!hasHaproxy)
  console.warn(
    '[feedrec tests] haproxy is not installed: deploy/local.sh is not tested (.ci/run installs it)',
  );

const free = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A base port P with P, P+1, P+2 and P+99 (front, two replicas, stats) free. */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await Promise.all([0, 1, 2, 99].map((d) => free(p + d)))).every(Boolean)) return p;
  }
  throw new Error('no free ports');
}

describe.skipIf(postgres.skip || !hasHaproxy)('deploy/local.sh: two replicas behind HAProxy', () => {
  let fresh: Awaited<ReturnType<typeof postgres.fresh>>;
  let modelsDir: string;
  let stateDir: string;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let users: number[];
  const sh = (...args: string[]) =>
    spawnSync('deploy/local.sh', [...args, '--port', String(port)], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });

  beforeAll(async () => {
    fresh = await postgres.fresh();
    await writeWorld(fresh.db, TINY);
    await buildFeatures(fresh.db);
    users = (
      await fresh.db.query<{ user_id: number }>('select user_id from user_data order by 1 limit 8')
    ).map((r) => r.user_id);
    modelsDir = copyModels();
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-deploy-'));
    port = await freeBase();
    env = {
      ...process.env,
      DATABASE_URL: fresh.url,
      FEEDREC_MODELS_DIR: modelsDir,
      FEEDREC_DEPLOY_DIR: stateDir,
    };
    const up = sh('up', '--replicas', '2');
    expect(up.status, up.stderr).toBe(0);
  });
  afterAll(async () => {
    if (env) sh('down');
    await fresh?.drop();
    for (const d of [modelsDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const get = async (user: number) => {
    const res = await fetch(
      `http://127.0.0.1:${port}/post/recommendations/?id=${user}&time=2021-12-01T10:00:00`,
    );
    await res.arrayBuffer();
    return {
      status: res.status,
      by: res.headers.get('x-served-by'),
      version: res.headers.get('x-model-version'),
    };
  };

  it('balances over both replicas and marks both UP from /readyz', async () => {
    const by = new Set<string | null>();
    for (let i = 0; i < 20; i++) {
      const a = await get(users[i % users.length]!);
      expect(a.status).toBe(200);
      by.add(a.by);
    }
    expect([...by].sort()).toEqual(['r1', 'r2']);
    expect(sh('status').stdout).toMatch(/r1 .*readyz 200 haproxy UP\nr2 .*readyz 200 haproxy UP/);
  });

  it('rolls both replicas with traffic flowing and not one failed answer', async () => {
    const statuses: number[] = [];
    let rolling = true;
    const traffic = Array.from({ length: 4 }, async (_, k) => {
      for (let i = k; rolling; i++) statuses.push((await get(users[i % users.length]!)).status);
    });
    const pidsBefore = execFileSync('sh', ['-c', `cat ${stateDir}/replica-*.pid`], { encoding: 'utf8' });
    // Asynchronously, so the requests above keep going while the script runs.
    const roll = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile('deploy/local.sh', ['roll', '--port', String(port)], { env }, (err, _out, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      ),
    );
    rolling = false;
    await Promise.all(traffic);
    expect(roll.code, roll.stderr).toBe(0);
    expect(execFileSync('sh', ['-c', `cat ${stateDir}/replica-*.pid`], { encoding: 'utf8' })).not.toBe(
      pidsBefore,
    );
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('reloads every replica to the newest model version', async () => {
    publishVersion(modelsDir, 'test', 'v1', 'v2');
    publishVersion(modelsDir, 'control', 'v1', 'v2');
    const reload = sh('reload');
    expect(reload.status, reload.stderr).toBe(0);
    for (let i = 0; i < 10; i++)
      expect((await get(users[i % users.length]!)).version).toMatch(/^(control|test)\/v2$/);
  });
});
