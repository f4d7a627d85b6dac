import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';
import { MODELS_DIR, tinyWorldDir } from '../helpers/tiny-world.js';

const QA_TOKEN = 'qa-token-for-tests';

/** Starts `feedrec serve` as its own process and resolves with its port once it is ready. */
function startProcess(
  dataDir: string,
  extraArgs: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      'bin/feedrec.js',
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--models-dir',
      MODELS_DIR,
      ...extraArgs,
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: '',
        HOST: '127.0.0.1',
        FEEDREC_QA_TOKEN: QA_TOKEN,
        // Nothing is flushed by size or time during the test: only the shutdown flush can save them.
        FEEDREC_EXPOSURE_FLUSH_MS: '60000',
        FEEDREC_EXPOSURE_BATCH: '100000',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`service exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { msg?: string; port?: number };
      if (msg.msg === 'ready') resolve({ child, port: msg.port! });
    });
  });
}

describe('graceful shutdown', () => {
  let dataDir: string;
  let users: number[];
  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    const db = await openDatabase({ dataDir });
    users = (
      await db.query<{ user_id: number }>('select user_id from user_data order by user_id limit 8')
    ).map((r) => r.user_id);
    await db.close();
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('writes every real exposure on SIGTERM and none of the forced QA answers', async () => {
    const { child, port } = await startProcess(dataDir);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const answers: { user: number; ids: number[] }[] = [];
    const base = `http://127.0.0.1:${port}/post/recommendations/`;
    for (const id of users) {
      const res = await fetch(`${base}?id=${id}&time=2021-12-01T10:00:00`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { recommendations: { id: number }[] };
      answers.push({ user: id, ids: body.recommendations.map((p) => p.id) });
    }
    for (const id of users) {
      const forced = await fetch(`${base}?id=${id}&time=2021-12-02T10:00:00`, {
        headers: { 'X-Exp-Group': 'test', 'X-QA-Token': QA_TOKEN },
      });
      expect(forced.status).toBe(200);
      await forced.json();
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const db = await openDatabase({ dataDir });
    try {
      const rows = await db.query<{ user_id: number; post_ids: number[] }>(
        'select user_id, post_ids from exposures order by id',
      );
      expect(rows.map((r) => ({ user: r.user_id, ids: r.post_ids }))).toEqual(answers);
    } finally {
      await db.close();
    }
  });

  it('exits cleanly when SIGTERM arrives with ranking work still queued in the workers', async () => {
    // Ranking every post makes each task slow, and a 5 ms deadline answers every request with the
    // fallback at once: at SIGTERM the HTTP side is idle while the workers still have a queue.
    // Stopping a worker inside session.run would abort the process instead of exiting 0.
    const { child, port } = await startProcess(dataDir, ['--rank-all'], { FEEDREC_DEADLINE_MS: '5' });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const base = `http://127.0.0.1:${port}/post/recommendations/`;
    const inFlight = Array.from({ length: 600 }, (_, i) =>
      fetch(`${base}?id=${users[i % users.length]}&time=2021-12-01T10:00:00&limit=5`)
        .then((r) => r.status)
        .catch(() => 0),
    );
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const statuses = await Promise.all(inFlight);
    // Every request that got an answer got a real one (model or fallback), never a 500.
    expect(statuses.filter((s) => s !== 0 && s !== 200 && s !== 503)).toEqual([]);
  });
});
