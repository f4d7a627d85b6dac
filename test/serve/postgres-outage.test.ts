import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { writeWorld } from '../../src/world/index.js';
import {
  freePort,
  postgresBinDir,
  startPrivatePostgres,
  type PrivatePostgres,
} from '../helpers/private-postgres.js';
import { MODELS_DIR, TINY } from '../helpers/tiny-world.js';

const bin = postgresBinDir();
if (!bin)
  console.warn('[feedrec tests] no Postgres binaries under /usr/lib/postgresql: the outage test is SKIPPED');

// The scenario: A/B traffic from 16 clients, Postgres stopped (`-m fast`, so pooled
// connections are killed with 57P01) for 30 s and started again.
const CLIENTS = 16;
const OUTAGE_MS = 30_000;

interface Answer {
  requestId: string;
  userId: number;
  postIds: number[];
  modelVersion: string;
}

interface Line {
  level?: string;
  msg?: string;
}

describe.skipIf(!bin)('Postgres stopped for 30 s under A/B load (a private Postgres server)', () => {
  let server: PrivatePostgres;
  let spoolDir: string;
  let child: ChildProcess | undefined;
  let users: number[];

  beforeAll(async () => {
    server = await startPrivatePostgres(bin!);
    const db = await openDatabase({ dataDir: os.tmpdir(), databaseUrl: server.url() });
    try {
      await writeWorld(db, TINY);
      await buildFeatures(db);
      users = (
        await db.query<{ user_id: number }>('select user_id from user_data order by user_id limit 300')
      ).map((r) => r.user_id);
    } finally {
      await db.close();
    }
    spoolDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-outage-spool-'));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await server?.destroy();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  it('keeps answering from memory, never dies, and writes every answered exposure exactly once', async () => {
    const port = await freePort();
    child = spawn(
      process.execPath,
      ['bin/feedrec.js', 'serve', '--port', String(port), '--models-dir', MODELS_DIR],
      {
        env: {
          ...process.env,
          DATABASE_URL: server.url(),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          FEEDREC_SPOOL_DIR: spoolDir,
          FEEDREC_EXPOSURE_FLUSH_MS: '100',
          // A generous deadline: every answer comes from the model on a busy machine, so the
          // check below compares model answers, and an outage cannot hide behind fallbacks.
          FEEDREC_DEADLINE_MS: '2000',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: Line[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l) as Line);
      } catch {
        lines.push({ msg: l });
      }
    });
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((r) =>
      child!.once('exit', (code) => {
        exitCode = code;
        r(code);
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      expect(exitCode, 'service exited during start-up').toBeUndefined();
      const ready = await fetch(`${base}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      expect(i).toBeLessThan(600);
      await new Promise((r) => setTimeout(r, 100));
    }

    const answers: Answer[] = [];
    const failures: string[] = [];
    const during: number[] = [];
    let phase: 'before' | 'outage' | 'after' = 'before';
    let stop = false;
    const client = async (c: number) => {
      for (let i = c; !stop; i += CLIENTS) {
        const userId = users[i % users.length]!;
        try {
          const res = await fetch(
            `${base}/post/recommendations/?id=${userId}&time=2021-12-01T10:00:00&limit=5`,
          );
          const body = (await res.json()) as { recommendations?: { id: number }[] };
          if (res.status !== 200) {
            failures.push(`${phase}: ${res.status} ${JSON.stringify(body)}`);
            continue;
          }
          answers.push({
            requestId: res.headers.get('x-request-id')!,
            userId,
            postIds: body.recommendations!.map((p) => p.id),
            modelVersion: res.headers.get('x-model-version')!,
          });
          if (phase === 'outage') during.push(1);
        } catch (err) {
          failures.push(`${phase}: ${(err as Error).message}`);
        }
        // Paced a little: the point is steady traffic across the outage, not saturation.
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    await new Promise((r) => setTimeout(r, 2_000));
    const before = answers.length;
    phase = 'outage';
    await server.stop();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    expect(exitCode, 'the service died while Postgres was down').toBeUndefined();
    await server.start();
    phase = 'after';
    await new Promise((r) => setTimeout(r, 3_000));
    stop = true;
    await load;

    expect(failures).toEqual([]);
    expect(before).toBeGreaterThan(0);
    // Answers kept coming from memory while the database was away (about 30 s of them).
    expect(during.length).toBeGreaterThan(100);
    expect(answers.every((a) => a.modelVersion !== 'fallback-popular')).toBe(true);

    // The spool was used, and is replayed once Postgres is back.
    // The sum over a metric's label sets (0 when no label set was ever counted).
    const metric = async (name: string) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))];
      return values.reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const check = await openDatabase({ dataDir: os.tmpdir(), databaseUrl: server.url(), migrate: false });
    let stored: { request_id: string; n: number; user_id: number; post_ids: number[] }[] = [];
    let spooled = 0;
    try {
      const read = () =>
        check.query<{ request_id: string; n: number; user_id: number; post_ids: number[] }>(
          `select request_id, count(*)::int n, min(user_id) user_id, min(post_ids) post_ids
           from exposures group by request_id`,
        );
      const endBy = Date.now() + 30_000;
      while (Date.now() < endBy) {
        stored = await read();
        if (stored.length >= answers.length && (await metric('feedrec_exposure_spool_rows')) === 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      spooled = await metric('feedrec_exposures_spooled_total');
      expect(spooled).toBeGreaterThan(0);
      expect(await metric('feedrec_exposures_replayed_total')).toBeGreaterThan(0);
      expect(await metric('feedrec_exposure_spool_rows')).toBe(0);
      expect(await metric('feedrec_exposures_dropped_total')).toBe(0);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      stored = await read();
      expectOnce(answers, stored);
    } finally {
      await check.close();
    }
    // The outage was noticed and said once (a warning), not per batch.
    expect(lines.filter((l) => l.msg?.startsWith('exposures cannot reach the database'))).toHaveLength(1);
    console.info(
      `[outage] ${answers.length} answers, ${during.length} of them while Postgres was down; ` +
        `${spooled} exposures spooled and replayed, each stored once`,
    );
  }, 180_000);
});

/** Every answered exposure is in the table exactly once, with the posts it answered. */
function expectOnce(
  answers: Answer[],
  stored: { request_id: string; n: number; user_id: number; post_ids: number[] }[],
): void {
  const byId = new Map(stored.map((s) => [s.request_id, s]));
  const missing = answers.filter((a) => !byId.has(a.requestId));
  expect(
    missing.length,
    `${missing.length} of ${answers.length} answered exposures are not in the table`,
  ).toBe(0);
  expect(stored.filter((s) => s.n !== 1)).toEqual([]);
  expect(stored.length).toBe(answers.length);
  const wrong = answers.filter((a) => {
    const s = byId.get(a.requestId)!;
    return s.user_id !== a.userId || s.post_ids.join(',') !== a.postIds.join(',');
  });
  expect(wrong).toEqual([]);
}
