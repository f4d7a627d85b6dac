import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignGroup } from '../../src/ab/index.js';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/db/index.js';
import { copyModels, publishVersion } from '../helpers/models.js';
import { tinyWorldDir } from '../helpers/tiny-world.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

describe('feedrec serve as a process: SIGHUP and `feedrec reload --url`', () => {
  let dataDir: string;
  let modelsDir: string;
  let child: ChildProcess;
  let port: number;
  let testUser: number;
  const logs: { msg?: string; [k: string]: unknown }[] = [];

  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    modelsDir = copyModels();
    const db = await openDatabase({ dataDir });
    const users = (await db.query<{ user_id: number }>('select user_id from user_data order by 1')).map(
      (r) => r.user_id,
    );
    await db.close();
    const { salt, testShare } = loadConfig({}).ab;
    testUser = users.find((u) => assignGroup(salt, u, testShare) === 'test')!;
    child = spawn(
      process.execPath,
      ['bin/feedrec.js', 'serve', '--data-dir', dataDir, '--port', '0', '--models-dir', modelsDir],
      {
        env: {
          ...process.env,
          DATABASE_URL: '',
          HOST: '127.0.0.1',
          FEEDREC_WORKERS: '1',
          FEEDREC_ADMIN_TOKEN: ADMIN_TOKEN,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`service exited early with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { msg?: string; port?: number };
        if (msg.msg !== 'request') logs.push(msg);
        if (msg.msg === 'ready') resolve(msg.port!);
      });
    });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(modelsDir, { recursive: true, force: true });
  });

  const version = async () =>
    (
      await fetch(`http://127.0.0.1:${port}/post/recommendations/?id=${testUser}&time=2021-12-01T10:00:00`)
    ).headers.get('x-model-version');
  // Asynchronous on purpose: a blocked event loop would let the server close an idle kept-alive
  // socket that the next fetch then reuses.
  const reloadCli = () =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['bin/feedrec.js', 'reload', '--url', `http://127.0.0.1:${port}`],
        { env: { ...process.env, FEEDREC_ADMIN_TOKEN: ADMIN_TOKEN }, encoding: 'utf8' },
        (err, stdout, stderr) => resolve({ status: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );

  it('loads the newest version on SIGHUP and keeps running', async () => {
    expect(await version()).toBe('test/v1');
    publishVersion(modelsDir, 'test', 'v1', 'v2');
    child.kill('SIGHUP');
    await expect.poll(version, { timeout: 20_000, interval: 100 }).toBe('test/v2');
    expect(logs.find((l) => l.msg === 'reloaded')).toMatchObject({
      reason: 'SIGHUP',
      models: ['control/v1', 'test/v2'],
    });
    expect(child.exitCode).toBeNull();
  });

  it('exits 1 from `feedrec reload` with the reason when the new model is refused; the old one serves on', async () => {
    publishVersion(modelsDir, 'test', 'v2', 'v3', (card) => {
      card.feature_names.pop();
    });
    const refused = await reloadCli();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/reload refused: .*test\/v3/);
    expect(refused.stderr).toContain('"serving":["control/v1","test/v2"]');
    expect(await version()).toBe('test/v2');

    rmSync(`${modelsDir}/test/v3`, { recursive: true });
    publishVersion(modelsDir, 'test', 'v2', 'v4');
    const ok = await reloadCli();
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'reloaded', models: ['control/v1', 'test/v4'] });
    expect(await version()).toBe('test/v4');
  });
});
