import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import {
  buildFeatures,
  fillRow,
  fillUserContext,
  loadFeatureStore,
  newUserContext,
  TEST_FEATURES,
  type FeatureStore,
} from '../../src/features/index.js';
import { readMatrix } from '../../src/training/index.js';
import { buildWindowMatrices } from '../../src/training/window-matrix.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, miniWorld, T0 } from '../fixtures/mini-log.js';

const DAY = 86_400_000;

describe('"liked within the next days" training matrix', () => {
  const world = miniWorld(21, 30, 60, 12);
  const likes = world.events.filter((e) => e.action === 'like');
  const views = world.events.filter((e) => e.action === 'view');
  const cut = T0 + 10 * DAY;
  let db: Database;
  let drop: () => Promise<void>;
  let tmp: string;
  let store: FeatureStore;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'feedrec-window-'));
    ({ db, drop } = await dbVariants[0]!.fresh());
    await loadMini(db, world);
    await buildFeatures(db);
  });
  afterAll(async () => {
    await drop?.();
    await rm(tmp, { recursive: true, force: true });
  });

  const build = async (dir: string, seed = 0) => {
    store = (await loadFeatureStore(db)).store;
    const built = await buildWindowMatrices(db, store, {
      dir: path.join(tmp, dir),
      targetRows: 1_000_000,
      untilMs: cut,
      seed,
      days: 2,
      negatives: 5,
    });
    return { built, test: await readMatrix(built.test), control: await readMatrix(built.control) };
  };

  it('labels the posts liked within the window as positives and draws negatives among the rest', async () => {
    const { built, test } = await build('a');
    expect(test.header.source.target).toEqual({ kind: 'liked-within', days: 2, negatives: 5 });
    // Every moment is a view whose whole window lies before the cut-off.
    const moments = new Set(views.filter((v) => v.ts < cut - 2 * DAY).map((v) => `${v.user}@${v.ts}`));
    const width = TEST_FEATURES.length;
    const ctx = newUserContext(store);
    const expected = new Float32Array(width);
    const rowsOf = new Map<string, { label: number; row: Float32Array }[]>();
    for (let i = 0; i < test.header.rows; i++) {
      const key = `${test.user[i]}@${test.time[i]}`;
      expect(moments.has(key)).toBe(true);
      if (!rowsOf.has(key)) rowsOf.set(key, []);
      rowsOf
        .get(key)!
        .push({ label: test.label[i]!, row: test.features.subarray(i * width, (i + 1) * width) });
    }
    expect(rowsOf.size).toBe(moments.size);
    for (const [key, rows] of rowsOf) {
      const [user, t] = key.split('@').map(Number) as [number, number];
      const likedBefore = new Set(likes.filter((l) => l.user === user && l.ts < t).map((l) => l.post));
      const liked = new Set(
        likes
          .filter((l) => l.user === user && l.ts >= t && l.ts < t + 2 * DAY && !likedBefore.has(l.post))
          .map((l) => l.post),
      );
      // Rows are the posts' feature rows at the moment: find each row's post among all posts.
      fillUserContext(store, store.userIndexById[user]!, t, ctx);
      const postOf = (row: Float32Array) =>
        Array.from(store.postIds).filter((_, pi) => {
          fillRow(store, ctx, pi, 'test', expected, 0);
          return expected.every((x, f) => Object.is(x, row[f]));
        });
      const positives = rows.filter((r) => r.label === 1).map((r) => postOf(r.row));
      const negatives = rows.filter((r) => r.label === 0).map((r) => postOf(r.row));
      expect(positives.length).toBe(liked.size);
      for (const ids of positives) expect(ids.some((id) => liked.has(id))).toBe(true);
      expect(negatives.length).toBe(5);
      for (const ids of negatives)
        expect(ids.some((id) => !liked.has(id) && !likedBefore.has(id))).toBe(true);
    }
    expect(built.positives).toBeGreaterThan(0);
    expect(built.window.until_ms).toBe(cut);
  });

  it('draws the same rows for the same seed and other negatives for another', async () => {
    const a = await build('b');
    const again = await build('c');
    const other = await build('d', 4);
    expect(again.test.header.sha256).toEqual(a.test.header.sha256);
    expect(other.test.header.sha256).not.toEqual(a.test.header.sha256);
    expect(a.control.header.rows).toBe(a.test.header.rows);
  });
});
