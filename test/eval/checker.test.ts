import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { drawRequests, runCheck } from '../../src/eval/index.js';
import { PERIOD } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, T0, type MiniEvent } from '../fixtures/mini-log.js';
import { MODELS_DIR, TINY, tinyWorldDir } from '../helpers/tiny-world.js';

const common = { requests: 400, modelsDir: MODELS_DIR, candidates: 300, rankAll: false };

describe('checker against the ground truth', () => {
  let dataDir: string;
  let db: Database;
  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    db = await openDatabase({ dataDir });
  });
  afterAll(async () => {
    await db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('draws its hidden requests inside the period and the active hours, the same for the same seed', () => {
    const users = [5, 6, 7];
    const a = drawRequests(users, PERIOD, 1, 500);
    expect(drawRequests(users, PERIOD, 1, 500)).toEqual(a);
    expect(drawRequests(users, PERIOD, 2, 500)).not.toEqual(a);
    for (const r of a) {
      expect(r.tMs).toBeGreaterThanOrEqual(PERIOD.startMs);
      expect(r.tMs).toBeLessThanOrEqual(PERIOD.endMs);
      expect(new Date(r.tMs).getUTCHours()).toBeGreaterThanOrEqual(6);
    }
  });

  it('ranks the baselines and models between random and the oracle, with gap closed', async () => {
    const r = await runCheck(db, {
      ...common,
      seed: 5,
      policies: ['random', 'popular', 'control', 'test', 'oracle'],
    });
    const hr = (p: string) => r.policies[p]!.hitrate;
    expect(hr('random')).toBeGreaterThan(0.4);
    expect(hr('random')).toBeLessThan(0.52);
    expect(hr('oracle')).toBeGreaterThan(0.7);
    for (const p of ['popular', 'control', 'test']) {
      expect(hr(p)).toBeGreaterThan(hr('random'));
      expect(hr(p)).toBeLessThan(hr('oracle'));
    }
    expect(r.policies.random!.gapClosed).toBeCloseTo(0, 9);
    expect(r.policies.oracle!.gapClosed).toBeCloseTo(1, 9);
    expect(r.policies.test!.auc).toBeGreaterThan(0.5);
    expect(r.policies.test!.ci[0]).toBeLessThan(hr('test'));
  });

  it('gives the same scores from regenerated likes as from the logged ones', async () => {
    const fromDb = await runCheck(db, { ...common, seed: 8, policies: ['random', 'oracle'] });
    const fromSeed = await runCheck(undefined, {
      ...common,
      seed: 8,
      world: TINY,
      policies: ['random', 'oracle'],
    });
    expect(fromSeed.policies).toEqual(fromDb.policies);
  });
});

describe('checker on real tables (no ground truth)', () => {
  /**
   * A hand-made log. Crowd users (never active in the last days) like posts 1–5 early, post 1 most,
   * so the popular policy answers [1, 2, 3, 4, 5] minus what the user liked before. In the held-out
   * days: u1 likes post 3 at the very end (returned, after every request: a hit); u2 likes post 9
   * (not returned: a miss); u3 liked post 2 long before and likes it again at the end (popular no
   * longer returns it: a miss).
   */
  function handMadeLog() {
    const DAY = 86_400_000;
    const at = (day: number, hour: number) => T0 + day * DAY + (hour - 6) * 3_600_000;
    const [u1, u2, u3] = [200, 203, 206];
    const crowd = [300, 301, 302, 303, 304];
    const userRows = [u1, u2, u3, ...crowd].map((user_id, i) => ({
      user_id,
      gender: i % 2,
      age: 20 + i,
      country: 'Russia',
      city: 'Moscow',
      exp_group: i % 5,
      os: 'Android',
      source: 'ads',
    }));
    const topics = ['movie', 'covid', 'business'];
    const postRows = Array.from({ length: 60 }, (_, i) => ({
      post_id: i + 1,
      text: `post ${i + 1} about ${topics[i % 3]} and more words ${i % 7}`,
      topic: topics[i % 3]!,
    }));
    const events: MiniEvent[] = [];
    const like = (user: number, post: number, ts: number) => {
      events.push({ ts, user, post, action: 'view', target: 1 });
      events.push({ ts: ts + 90_000, user, post, action: 'like', target: 0 });
    };
    const view = (user: number, post: number, ts: number) =>
      events.push({ ts, user, post, action: 'view', target: 0 });
    crowd.forEach((c, i) => {
      for (let post = 1; post <= 5 - i; post++) like(c, post, at(2, 10 + post));
    });
    like(u3, 2, at(5, 12));
    for (const u of [u1, u2, u3]) for (let d = 16; d <= 18; d++) view(u, 20 + d, at(d, 15));
    const end = at(19, 20);
    like(u1, 3, end - 90_000);
    like(u2, 9, end - 90_000);
    like(u3, 2, end - 90_000);
    events.sort((a, b) => a.ts - b.ts);
    return { world: { userRows, postRows, events }, u1, endMs: end };
  }

  it('counts a hit only for a returned post the user liked after the request, in the held-out days', async () => {
    const fresh = await dbVariants[0]!.fresh();
    try {
      const { world, u1, endMs } = handMadeLog();
      await loadMini(fresh.db, world);
      await buildFeatures(fresh.db);
      const holdoutDays = 5;
      const r = await runCheck(fresh.db, {
        ...common,
        seed: 1,
        requests: 300,
        holdoutDays,
        policies: ['random', 'popular', 'oracle'],
      });
      expect(r.checker.mode).toBe('holdout');
      expect(r.world).toBeNull();
      expect(Object.keys(r.policies)).toEqual(['random', 'popular']);
      // The same hidden requests the checker draws: over the users active in the held-out days.
      const reqs = drawRequests(
        [200, 203, 206],
        { startMs: endMs - holdoutDays * 86_400_000, endMs },
        1,
        300,
      );
      const fromU1 = reqs.filter((q) => q.userId === u1).length;
      expect(fromU1).toBeGreaterThan(50);
      expect(fromU1).toBeLessThan(250);
      expect(r.policies.popular!.hitrate).toBeCloseTo(fromU1 / 300, 12);
    } finally {
      await fresh.drop();
    }
  });
});
