import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { drawRequests, runCheck } from '../../src/eval/index.js';
import { holdoutWindow } from '../../src/eval/holdout.js';
import { HoldoutOverlapError, ValidationError } from '../../src/errors/index.js';
import { PERIOD } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, miniWorld, T0, type MiniEvent } from '../fixtures/mini-log.js';
import { MODELS_DIR, TINY, tinyWorldDir } from '../helpers/tiny-world.js';
import { committedModel } from '../helpers/models.js';

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

  it('scores a simulated world in hold-out mode when asked, without the ground truth', async () => {
    const r = await runCheck(db, {
      ...common,
      seed: 5,
      requests: 200,
      holdout: true,
      holdoutDays: 7,
      policies: ['random', 'popular', 'oracle'],
    });
    expect(r.checker.mode).toBe('holdout');
    expect(r.checker.holdout).toMatchObject({ start: '2021-12-23T00:00:00Z' });
    expect(r.world).toBeNull();
    expect(Object.keys(r.policies)).toEqual(['random', 'popular']);
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
        { startMs: holdoutWindow(endMs, holdoutDays).startMs, endMs },
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

  const DAY = 86_400_000;
  const mini = miniWorld(3, 40, 90, 20);
  const lastEvent = mini.events.at(-1)!.ts;
  // The held-out days: the last 5 whole days of the log.
  const start = Math.floor(lastEvent / DAY) * DAY - 4 * DAY;
  let fresh: Awaited<ReturnType<(typeof dbVariants)[0]['fresh']>>;
  let models: string;

  /** Copies of the committed models whose cards say they learned from events before `untilMs`. */
  function modelsTrainedUntil(untilMs: number | undefined): string {
    const dir = mkdtempSync(path.join(models, 'm-'));
    for (const name of ['control', 'test']) {
      const to = path.join(dir, name, 'v1');
      cpSync(committedModel(name), to, { recursive: true });
      const card = JSON.parse(readFileSync(path.join(to, 'meta.json'), 'utf8')) as Record<string, unknown>;
      card.version = 'v1'; // whatever the committed version is called
      if (untilMs === undefined) delete card.window;
      else card.window = { until_ms: untilMs, first_event_ms: T0, last_event_ms: untilMs - 60_000 };
      writeFileSync(path.join(to, 'meta.json'), JSON.stringify(card));
    }
    return dir;
  }

  beforeAll(async () => {
    models = mkdtempSync(path.join(os.tmpdir(), 'feedrec-holdout-models-'));
    fresh = await dbVariants[0]!.fresh();
    await loadMini(fresh.db, mini);
    await buildFeatures(fresh.db);
  });
  afterAll(async () => {
    await fresh?.drop();
    rmSync(models, { recursive: true, force: true });
  });

  const holdout = { ...common, seed: 1, requests: 200, holdoutDays: 5 };

  it('holds out the last whole days of the log', () => {
    const w = holdoutWindow(Date.UTC(2021, 11, 29, 23, 51), 7);
    expect(w).toEqual({
      startMs: Date.UTC(2021, 11, 23),
      endMs: Date.UTC(2021, 11, 29, 23, 51),
      start: '2021-12-23T00:00:00Z',
      end: '2021-12-29T23:51:00Z',
    });
    expect(() => holdoutWindow(0, 0)).toThrow(ValidationError);
  });

  it('scores hits as likes in the held-out days, skips the oracle and reports the window', async () => {
    const r = await runCheck(fresh.db, {
      ...holdout,
      modelsDir: modelsTrainedUntil(start),
      policies: ['random', 'popular', 'control', 'oracle'],
    });
    expect(r.checker.mode).toBe('holdout');
    expect(r.checker.holdout).toEqual(holdoutWindow(lastEvent, 5));
    expect(r.world).toBeNull();
    expect(Object.keys(r.policies)).toEqual(['random', 'popular', 'control']);
    for (const s of Object.values(r.policies)) {
      expect(s.hitrate).toBeGreaterThanOrEqual(0);
      expect(s.hitrate).toBeLessThanOrEqual(1);
    }
    expect(r.policies.control).toMatchObject({
      trainedUntil: new Date(start).toISOString().replace('.000', ''),
    });
    expect(r.policies.control!.overlap).toBeUndefined();
  });

  it('refuses a model trained on the held-out days, naming it, its window and the way out', async () => {
    const err = await runCheck(fresh.db, {
      ...holdout,
      modelsDir: modelsTrainedUntil(start + 1000),
      policies: ['popular', 'test'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoldoutOverlapError);
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000', '');
    expect((err as Error).message).toContain(
      `model test/v1 learned from events up to ${iso(start + 1000)}, which overlaps the held-out days from ${iso(start)}`,
    );
    expect((err as Error).message).toContain(`feedrec train --until ${iso(start)}`);
    expect((err as Error).message).toContain('--allow-overlap');
  });

  it('refuses a model whose card has no training window', async () => {
    await expect(
      runCheck(fresh.db, { ...holdout, modelsDir: modelsTrainedUntil(undefined), policies: ['control'] }),
    ).rejects.toThrow(/control\/v1 has no training window in its card/);
  });

  it('scores an overlapping model with allowOverlap, and says so', async () => {
    const r = await runCheck(fresh.db, {
      ...holdout,
      allowOverlap: true,
      modelsDir: modelsTrainedUntil(lastEvent + 1),
      policies: ['popular', 'test'],
    });
    expect(r.policies.test).toMatchObject({ overlap: true, model: 'test/v1' });
    expect(r.policies.popular!.overlap).toBeUndefined();
  });
});
