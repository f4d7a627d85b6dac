import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, DbSession } from '../../src/db/index.js';
import {
  buildFeatures,
  fillUserContext,
  invalidateFeatures,
  liveStats,
  loadFeatureStore,
  newUserContext,
  type FeatureStore,
} from '../../src/features/index.js';
import { appendFeedRows, FeedFollower, type FeedRow, type Schedule } from '../../src/live/index.js';
import { createMemoryLogger, silentLogger } from '../../src/log/index.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, miniWorld } from '../fixtures/mini-log.js';

const changes = async (db: Pick<DbSession, 'query'>) =>
  Number((await db.query<{ n: string }>('select count(*) n from feed_changes'))[0]!.n);
const lastSeq = async (db: Pick<DbSession, 'query'>) =>
  Number((await db.query<{ n: string }>('select coalesce(max(seq), 0) n from feed_changes'))[0]!.n);

/** A schedule the test fires by hand: no timers, no sleeps. */
function manualSchedule() {
  const armed: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const schedule: Schedule = (fn, ms) => {
    const t = { fn, ms, cancelled: false };
    armed.push(t);
    return { cancel: () => void (t.cancelled = true) };
  };
  const fire = () => {
    const t = armed.shift();
    if (!t || t.cancelled) throw new Error('nothing armed');
    t.fn();
    return t.ms;
  };
  return { schedule, armed, fire };
}

describe.each(dbVariants)('following the log ($name)', ({ fresh, skip }) => {
  const world = miniWorld(5, 12, 30, 8);
  const end = world.events[world.events.length - 1]!.ts;
  let db: Database;
  let drop: () => Promise<void>;
  let store: FeatureStore;
  let fromSeq: number;
  const user = world.userRows[0]!.user_id;
  const post = world.postRows[0]!.post_id;

  beforeAll(async () => {
    if (skip) return;
    ({ db, drop } = await fresh());
    await loadMini(db, world);
    await buildFeatures(db);
    ({ store, changesSeq: fromSeq } = await loadFeatureStore(db, { liveEvents: 100 }));
  });
  afterAll(async () => drop?.());

  it.skipIf(skip)('records every row inserted into feed_data, but not the rows of a bulk load', async () => {
    const before = await changes(db);
    const row: FeedRow = { timeMs: end + 1_000, userId: user, postId: post, action: 'view', target: 0 };
    const rolledBack = await db
      .transaction(async (tx) => {
        await invalidateFeatures(tx);
        await appendFeedRows(tx, [row, row]);
        expect(await changes(tx)).toBe(before);
        // Undo the load and the invalidation: the rest of this file uses the built features.
        throw new Error('rollback');
      })
      .catch((e: Error) => e.message);
    expect(rolledBack).toBe('rollback');
    await db.transaction(async (tx) => {
      await appendFeedRows(tx, [row]);
      expect(await changes(tx)).toBe(before + 1);
      await tx.exec(
        `delete from feed_data where "timestamp" > '${new Date(end).toISOString().slice(0, 19)}'`,
      );
      await tx.exec(`delete from feed_changes where seq > ${fromSeq}`);
    });
  });

  it.skipIf(skip)('gives a store loaded after a feature build only the rows logged after it', async () => {
    // Every row of the fixture went in before the build: the watermark covers them all.
    expect(fromSeq).toBe(await lastSeq(db));
    const follower = new FeedFollower({ db, store, fromSeq, intervalMs: 100, logger: silentLogger });
    expect(await follower.poll()).toBe(0);

    const ui = store.userIndexById[user]!;
    const pi = store.postIndexById[post]!;
    const tView = end + 60_000;
    const tLike = tView + 90_000;
    const ctxBefore = fillUserContext(store, ui, tLike + 1_000, newUserContext(store));
    const [likesBefore, viewsBefore] = [ctxBefore.likesBefore, ctxBefore.viewsBefore];
    expect(ctxBefore.liked).not.toContain(pi);

    await appendFeedRows(db, [
      { timeMs: tView, userId: user, postId: post, action: 'view', target: 1 },
      { timeMs: tLike, userId: user, postId: post, action: 'like', target: 0 },
    ]);
    await follower.catchUp();
    expect(follower.appliedSeq).toBe(await lastSeq(db));

    const after = fillUserContext(store, ui, tLike + 1_000, newUserContext(store));
    expect(after.liked).toContain(pi);
    expect(after.likesBefore).toBe(likesBefore + 1);
    expect(after.viewsBefore).toBe(viewsBefore + 1);
    expect(after.topicLikes[store.postTopic[pi]!]).toBe(ctxBefore.topicLikes[store.postTopic[pi]!]! + 1);
    // History is read by time: a request before the like does not see it, nor the view before it.
    const earlier = fillUserContext(store, ui, tView, newUserContext(store));
    expect(earlier.liked).not.toContain(pi);
    expect(earlier.viewsBefore).toBe(viewsBefore);

    // A second store loaded now (a restarted service) catches up to the same state.
    const again = await loadFeatureStore(db, { liveEvents: 100 });
    expect(again.changesSeq).toBe(fromSeq);
    await new FeedFollower({
      db,
      store: again.store,
      fromSeq,
      intervalMs: 100,
      logger: silentLogger,
    }).catchUp();
    expect(fillUserContext(again.store, ui, tLike + 1_000, newUserContext(again.store)).liked).toContain(pi);
  });

  it.skipIf(skip)('skips unknown users and posts, and counts rows past a full pool', async () => {
    const small = (await loadFeatureStore(db, { liveEvents: 1 })).store;
    const seen: { views: number; likes: number; dropped: number; skipped: number }[] = [];
    const logger = createMemoryLogger();
    const follower = new FeedFollower({
      db,
      store: small,
      fromSeq: await lastSeq(db),
      intervalMs: 100,
      logger,
      observer: { observeLiveRows: (n) => seen.push(n), setLiveSeq: () => {}, observeFollowError: () => {} },
    });
    const t = end + 600_000;
    await appendFeedRows(db, [
      { timeMs: t, userId: 999_999, postId: post, action: 'view', target: 0 },
      { timeMs: t, userId: user, postId: 999_999, action: 'like', target: 0 },
      { timeMs: t, userId: user, postId: post, action: 'view', target: 0 },
      { timeMs: t, userId: user, postId: post, action: 'view', target: 0 },
    ]);
    await follower.catchUp();
    expect(seen).toEqual([{ views: 1, likes: 0, dropped: 1, skipped: 2 }]);
    expect(liveStats(small)).toEqual({ capacity: 1, used: 1, dropped: 1 });
    expect(logger.entries.some((e) => e.level === 'error' && String(e.msg).includes('pool full'))).toBe(true);
  });

  it.skipIf(skip)(
    'polls on its schedule, at once after a full batch, and retries after a failure',
    async () => {
      const { schedule, armed, fire } = manualSchedule();
      let failures = 0;
      let fail = true;
      const flaky = {
        query: <R>(text: string, params?: unknown[]) => {
          if (fail) return Promise.reject(new Error('connection lost'));
          return db.query<R>(text, params);
        },
      };
      const follower = new FeedFollower({
        db: flaky,
        store,
        fromSeq: await lastSeq(db),
        intervalMs: 250,
        batchRows: 2,
        logger: silentLogger,
        observer: { observeLiveRows: () => {}, setLiveSeq: () => {}, observeFollowError: () => failures++ },
        schedule,
      });
      const tick = async () => {
        const ms = fire();
        // Let the poll's query and its follow-up (the next arm) settle.
        await follower.poll().catch(() => undefined);
        await new Promise((r) => setImmediate(r));
        return ms;
      };
      follower.start();
      expect(armed.map((a) => a.ms)).toEqual([250]);
      expect(await tick()).toBe(250);
      expect(failures).toBe(1);
      expect(armed.map((a) => a.ms)).toEqual([250]);

      fail = false;
      const t = end + 900_000;
      const rows: FeedRow[] = [0, 1, 2].map((i) => ({
        timeMs: t + i,
        userId: user,
        postId: post,
        action: 'view',
        target: 0,
      }));
      await appendFeedRows(db, rows);
      const seq = follower.appliedSeq;
      await tick();
      // Two of three rows: a full batch, so the next poll comes at once.
      expect(follower.appliedSeq).toBe(seq + 2);
      expect(armed.map((a) => a.ms)).toEqual([0]);
      await tick();
      expect(follower.appliedSeq).toBe(seq + 3);
      expect(armed.map((a) => a.ms)).toEqual([250]);
      await follower.close();
      expect(armed[0]!.cancelled).toBe(true);
    },
  );
});

describe.skipIf(dbVariants[1]!.skip)('concurrent writers on Postgres', () => {
  let db: Database;
  let url: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const f = await dbVariants[1]!.fresh();
    ({ db, drop } = f);
    url = f.url!;
  });
  afterAll(async () => drop?.());

  it('commit in turns, so a follower never skips a row committed after a later one', async () => {
    const a = new pg.Client({ connectionString: url });
    const b = new pg.Client({ connectionString: url });
    await a.connect();
    await b.connect();
    const insert = (c: pg.Client, post: number) =>
      c.query(`insert into feed_data values ('2021-12-30 10:00:00', 1, $1, 'view', 0)`, [post]);
    try {
      await a.query('begin');
      await insert(a, 1);
      await b.query('begin');
      const bInsert = insert(b, 2);
      // B waits for A's turn to end: wait until Postgres reports it blocked on the lock.
      for (;;) {
        const waiting = await db.query<{ n: string }>(
          `select count(*) n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        );
        if (Number(waiting[0]!.n) === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await a.query('commit');
      await bInsert;
      await b.query('commit');
      const rows = await db.query<{ post_id: number }>('select post_id from feed_changes order by seq');
      expect(rows.map((r) => r.post_id)).toEqual([1, 2]);
    } finally {
      await a.end();
      await b.end();
    }
  });
});
