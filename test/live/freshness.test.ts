import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { startServer, type RunningServer } from '../../src/http/index.js';
import { appendFeedRows, type FeedRow } from '../../src/live/index.js';
import { buildService, type Service } from '../../src/serve/index.js';
import { writeWorld } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';
import { MODELS_DIR, TINY, tinyWorldDir } from '../helpers/tiny-world.js';

const T = Date.UTC(2021, 11, 30, 10); // the morning after the logged period
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);

/** Waits for a condition the service reports (no fixed sleeps): here, rows applied to the store. */
async function until(cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(dbVariants)('freshness of likes in a running service ($name)', ({ name, fresh, skip }) => {
  let svc: Service;
  let server: RunningServer;
  let cfg: Config;
  let writer: Database | undefined;
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    if (skip) return;
    const common = { modelsDir: MODELS_DIR, port: 0, host: '127.0.0.1', logLevel: 'silent' as const };
    if (name === 'pglite') {
      const dataDir = await tinyWorldDir();
      cfg = loadConfig({}, { ...common, dataDir, serving: { followMs: 50, deadlineMs: 60_000 } });
      cleanup = async () => rmSync(dataDir, { recursive: true, force: true });
    } else {
      // The network's own writer: a second connection straight into Postgres, not the service.
      const f = await fresh();
      await writeWorld(f.db, TINY);
      await buildFeatures(f.db);
      writer = f.db;
      cfg = loadConfig(
        {},
        { ...common, dataDir: f.dataDir, databaseUrl: f.url, serving: { followMs: 50, deadlineMs: 60_000 } },
      );
      cleanup = f.drop;
    }
    svc = await buildService(cfg);
    server = await startServer(svc.app, cfg, { signals: [] });
  });
  afterAll(async () => {
    await server?.close();
    await svc?.close();
    await cleanup();
  });

  const recommend = async (userId: number, tMs: number): Promise<number[]> => {
    const res = await fetch(
      `http://127.0.0.1:${server.port}/post/recommendations/?id=${userId}&time=${iso(tMs)}&limit=5`,
    );
    expect(res.status).toBe(200);
    return ((await res.json()) as { recommendations: { id: number }[] }).recommendations.map((p) => p.id);
  };

  const log = async (rows: FeedRow[]) => {
    if (writer) return appendFeedRows(writer, rows);
    // The embedded database belongs to the service: rows go through it, from this machine.
    const res = await fetch(`http://127.0.0.1:${server.port}/feed_data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        rows: rows.map((r) => ({
          timestamp: iso(r.timeMs),
          user_id: r.userId,
          post_id: r.postId,
          action: r.action,
          target: r.target,
        })),
      }),
    });
    expect(res.status).toBe(200);
  };

  const lastSeq = async () =>
    Number((await svc.db.query<{ n: string }>('select coalesce(max(seq), 0) n from feed_changes'))[0]!.n);

  it.skipIf(skip)(
    'never serves a post again once its like has been followed, without a restart',
    async () => {
      const users = await svc.db.query<{ user_id: number }>(
        'select user_id from user_data order by user_id limit 3',
      );
      for (const { user_id: userId } of users) {
        const first = await recommend(userId, T);
        const liked = first[0]!;
        await log([
          { timeMs: T + 5_000, userId, postId: liked, action: 'view', target: 1 },
          { timeMs: T + 95_000, userId, postId: liked, action: 'like', target: 0 },
        ]);
        const seq = await lastSeq();
        await until(() => svc.recommender.current.follower.appliedSeq >= seq);

        const later = await recommend(userId, T + 10 * 60_000);
        expect(later).not.toContain(liked);
        expect(later).toHaveLength(5);
        // History is read by time: a request from before the like still may show the post.
        expect(await recommend(userId, T)).toEqual(first);
      }
      // A reload builds a new generation from a fresh snapshot: its live part is rebuilt from the
      // log, so the likes stay known.
      const before = svc.recommender.current;
      await svc.reloader.reload('test');
      expect(svc.recommender.current).not.toBe(before);
      for (const { user_id: userId } of users) {
        const liked = (
          await svc.db.query<{ post_id: number }>(
            `select post_id from feed_data where user_id = $1 and action = 'like' and "timestamp" >= $2::timestamp`,
            [userId, iso(T)],
          )
        ).map((r) => r.post_id);
        expect(liked).toHaveLength(1);
        expect(await recommend(userId, T + 10 * 60_000)).not.toContain(liked[0]);
      }
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      // Three likes followed by the first generation, and again by the second from its watermark.
      expect(metrics).toMatch(/feedrec_live_rows_total\{outcome="like"\} 6/);
    },
  );
});
