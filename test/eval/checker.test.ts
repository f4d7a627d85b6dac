import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { drawRequests, runCheck } from '../../src/eval/index.js';
import { PERIOD } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, miniWorld } from '../fixtures/mini-log.js';
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
  it('scores hits as likes in the held-out days and skips the oracle', async () => {
    const fresh = await dbVariants[0]!.fresh();
    try {
      await loadMini(fresh.db, miniWorld(3, 40, 90, 20));
      await buildFeatures(fresh.db);
      const r = await runCheck(fresh.db, {
        ...common,
        seed: 1,
        requests: 200,
        holdoutDays: 5,
        policies: ['random', 'popular', 'control', 'oracle'],
      });
      expect(r.checker.mode).toBe('holdout');
      expect(r.world).toBeNull();
      expect(Object.keys(r.policies)).toEqual(['random', 'popular', 'control']);
      for (const s of Object.values(r.policies)) {
        expect(s.hitrate).toBeGreaterThanOrEqual(0);
        expect(s.hitrate).toBeLessThanOrEqual(1);
      }
    } finally {
      await fresh.drop();
    }
  });
});
