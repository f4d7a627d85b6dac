import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import {
  buildFeatures,
  CONTROL_FEATURES,
  cutStoreAt,
  loadFeatureStore,
  TEST_FEATURES,
  type FeatureStore,
} from '../../src/features/index.js';
import { RankingPipeline } from '../../src/ranking/pipeline.js';
import { buildTrainingMatrices, type BuiltMatrices } from '../../src/training/build-matrix.js';
import { readMatrix, type Matrix } from '../../src/training/index.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, miniWorld, T0, type MiniEvent } from '../fixtures/mini-log.js';

const world = miniWorld(5, 30, 60, 10);
const views = world.events.filter((e) => e.action === 'view');
const ALL = 1_000_000; // more rows than the log has: every view is sampled

let tmp: string;
let n = 0;
async function build(
  db: Database,
  store: FeatureStore,
  opts: { targetRows: number; seed?: number; untilMs?: number },
): Promise<{ built: BuiltMatrices; control: Matrix; test: Matrix }> {
  const dir = path.join(tmp, `m${n++}`);
  const built = await buildTrainingMatrices(db, store, { dir, ...opts });
  return { built, control: await readMatrix(built.control), test: await readMatrix(built.test) };
}

async function freshStore(db: Database): Promise<FeatureStore> {
  return (await loadFeatureStore(db)).store;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'feedrec-build-matrix-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('training matrix builder', () => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await dbVariants[0]!.fresh();
    ({ db, drop } = fresh);
    await loadMini(db, world);
    await buildFeatures(db);
  });
  afterAll(async () => drop?.());

  it('samples about the asked share of views, the same ones for the same seed and others for another', async () => {
    const store = await freshStore(db);
    const a = await build(db, store, { targetRows: 300 });
    const again = await build(db, store, { targetRows: 300 });
    const other = await build(db, store, { targetRows: 300, seed: 3 });
    const otherAgain = await build(db, store, { targetRows: 300, seed: 3 });
    // 300 of the log's views → a 400 ‰ hash sample.
    expect(views.length).toBe(750);
    expect(a.test.header.source.keepPerMille).toBe(400);
    for (const m of [a, other]) {
      expect(m.built.rows).toBeGreaterThan(0.3 * views.length);
      expect(m.built.rows).toBeLessThan(0.5 * views.length);
    }
    expect(again.test.header.sha256).toEqual(a.test.header.sha256);
    expect(otherAgain.test.header.sha256).toEqual(other.test.header.sha256);
    expect(other.test.header.sha256).not.toEqual(a.test.header.sha256);
    // Different seeds draw nearly independent samples, not shifted copies of one another.
    const key = (m: Matrix, i: number) => `${m.user[i]}@${m.time[i]}`;
    const inA = new Set(Array.from({ length: a.test.header.rows }, (_, i) => key(a.test, i)));
    let shared = 0;
    for (let i = 0; i < other.test.header.rows; i++) if (inA.has(key(other.test, i))) shared++;
    expect(shared / other.test.header.rows).toBeLessThan(0.6);
    // The control matrix holds the same rows, its features a prefix of the test ones.
    expect(a.control.header.rows).toBe(a.test.header.rows);
    expect(a.control.label).toEqual(a.test.label);
    expect(a.control.time).toEqual(a.test.time);
    expect(a.control.header.features).toEqual([...CONTROL_FEATURES]);
  });

  it('makes one row per view with its target as label, time and user; like rows are never rows', async () => {
    const { built, test } = await build(db, await freshStore(db), { targetRows: ALL });
    expect(built.rows).toBe(views.length);
    expect(built.positives).toBe(views.filter((v) => v.target === 1).length);
    const got = Array.from(
      { length: test.header.rows },
      (_, i) => `${test.user[i]} ${test.time[i]} ${test.label[i]}`,
    );
    const want = views.map((v) => `${v.user} ${v.ts} ${v.target}`);
    expect(got.sort()).toEqual(want.sort());
    expect(built.minMs).toBe(Math.min(...views.map((v) => v.ts)));
    expect(built.maxMs).toBe(Math.max(...views.map((v) => v.ts)));
    expect(test.header.source.window).toMatchObject({
      until_ms: null,
      last_event_ms: world.events.at(-1)!.ts,
    });
  });

  it('writes the same rows the ranking pipeline builds for the service at the same user, post and time', async () => {
    const store = await freshStore(db);
    const { test, control } = await build(db, store, { targetRows: ALL });
    const width = TEST_FEATURES.length;
    const cw = CONTROL_FEATURES.length;
    const pipeline = new RankingPipeline(store, { set: 'test', candidates: 0, rankAll: true });
    const controlPipeline = new RankingPipeline(store, { set: 'control', candidates: 0, rankAll: true });
    let compared = 0;
    for (let i = 0; i < test.header.rows; i++) {
      const user = test.user[i]!;
      const tMs = test.time[i]!;
      const ui = store.userIndexById[user]!;
      // The posts this user viewed at this moment (a view of a post liked before is not a
      // candidate: the service never shows it again).
      const posts = views
        .filter((v) => v.user === user && v.ts === tMs)
        .map((v) => store.postIndexById[v.post]!);
      const req = { ui, tMs, limit: 5 };
      const batch = pipeline.prepare([req]);
      const cbatch = controlPipeline.prepare([req]);
      const mine = test.features.subarray(i * width, (i + 1) * width);
      const mineControl = control.features.subarray(i * cw, (i + 1) * cw);
      const cands = [...batch.candidates[0]!];
      const j = cands.findIndex(
        (pi, k) =>
          posts.includes(pi) &&
          batch.features.subarray(k * width, (k + 1) * width).every((x, f) => Object.is(x, mine[f])),
      );
      if (posts.every((pi) => !cands.includes(pi))) continue;
      expect(j, `row ${i}: user ${user} at ${new Date(tMs).toISOString()}`).toBeGreaterThanOrEqual(0);
      expect(Array.from(cbatch.features.subarray(j * cw, (j + 1) * cw))).toEqual(Array.from(mineControl));
      compared++;
    }
    expect(compared).toBeGreaterThan(0.9 * test.header.rows);
  });
});

describe('training matrix with a cut-off (train --until)', () => {
  const cut = T0 + 5 * 86_400_000 + 3 * 3600_000; // day 5, 09:00
  const [u1, u2, u3, u4] = world.userRows.map((u) => u.user_id);
  const [p1, p2, p3, p4] = world.postRows.map((p) => p.post_id);
  const ev = (
    ts: number,
    user: number,
    post: number,
    action: 'view' | 'like',
    target: 0 | 1 = 0,
  ): MiniEvent => ({
    ts,
    user: user!,
    post: post!,
    action,
    target,
  });
  // Events on both sides of the cut-off, and exactly on it.
  const edge = [
    ev(cut, u1!, p1!, 'view', 1), // a view exactly at the cut-off …
    ev(cut + 90_000, u1!, p1!, 'like'), // … and its like after it
    ev(cut - 60_000, u2!, p2!, 'view', 1), // liked, but the like comes after the cut-off
    ev(cut + 30_000, u2!, p2!, 'like'),
    ev(cut - 120_000, u3!, p3!, 'view', 1), // liked exactly at the cut-off
    ev(cut, u3!, p3!, 'like'),
    ev(cut - 200_000, u4!, p4!, 'view', 1), // liked before the cut-off: a positive
    ev(cut - 100_000, u4!, p4!, 'like'),
  ];
  const full = [...world.events, ...edge].sort((a, b) => a.ts - b.ts);
  // What a snapshot of the log taken at the cut-off holds: no later event, and a view's target
  // is 1 only once its like has happened.
  const likedBy = (v: MiniEvent) =>
    full.some(
      (l) => l.action === 'like' && l.user === v.user && l.post === v.post && l.ts >= v.ts && l.ts < cut,
    );
  const snapshot = full
    .filter((e) => e.ts < cut)
    .map((e) => (e.action === 'view' && e.target === 1 && !likedBy(e) ? { ...e, target: 0 as const } : e));

  let fullDb: Awaited<ReturnType<(typeof dbVariants)[0]['fresh']>>;
  let pastDb: typeof fullDb;
  beforeAll(async () => {
    fullDb = await dbVariants[0]!.fresh();
    pastDb = await dbVariants[0]!.fresh();
    await loadMini(fullDb.db, world, full);
    await loadMini(pastDb.db, world, snapshot);
    await buildFeatures(fullDb.db);
    await buildFeatures(pastDb.db);
  });
  afterAll(async () => {
    await fullDb?.drop();
    await pastDb?.drop();
  });

  it('lets no event at or after the cut-off reach the rows, the labels or the features', async () => {
    const fromFull = await build(fullDb.db, await freshStore(fullDb.db), { targetRows: ALL, untilMs: cut });
    const fromPast = await build(pastDb.db, await freshStore(pastDb.db), { targetRows: ALL, untilMs: cut });
    const before = full.filter((e) => e.action === 'view' && e.ts < cut);
    expect(fromFull.built.rows).toBe(before.length);
    expect(Math.max(...fromFull.test.time)).toBeLessThan(cut);
    // The view liked only after the cut-off is a negative, the one liked before it a positive.
    const labelAt = (user: number, ts: number) => {
      const i = fromFull.test.time.findIndex((t, k) => t === ts && fromFull.test.user[k] === user);
      return fromFull.test.label[i];
    };
    expect(labelAt(u2!, cut - 60_000)).toBe(0);
    expect(labelAt(u3!, cut - 120_000)).toBe(0);
    expect(labelAt(u4!, cut - 200_000)).toBe(1);
    // Byte for byte the matrix a snapshot taken at the cut-off gives: features included.
    expect(fromFull.test.header.sha256).toEqual(fromPast.test.header.sha256);
    expect(fromFull.control.header.sha256).toEqual(fromPast.control.header.sha256);
    expect(fromFull.built.window).toEqual(fromPast.built.window);
    expect(fromFull.built.window).toMatchObject({
      until_ms: cut,
      first_event_ms: full[0]!.ts,
      last_event_ms: Math.max(...full.filter((e) => e.ts < cut).map((e) => e.ts)),
      last_row_ms: Math.max(...before.map((e) => e.ts)),
    });
  });

  it('cuts the feature store to what the log held before the cut-off', async () => {
    const cutStore = cutStoreAt(await freshStore(fullDb.db), cut);
    const past = await freshStore(pastDb.db);
    const likes = (s: FeatureStore) =>
      Array.from(s.userIds, (_, u) => {
        const out: string[] = [];
        for (let k = s.likeOffsets[u]!; k < s.likeOffsets[u + 1]!; k++)
          out.push(`${s.postIds[s.likePost[k]!]}@${s.likeAtSec[k]}`);
        return out;
      });
    expect(likes(cutStore)).toEqual(likes(past));
    // Per-day prefix sums agree on every day before the cut-off's day and stop growing there.
    const day = Math.floor((cut - cutStore.meta.day0Ms) / 86_400_000);
    const D = cutStore.dims.days + 1;
    const Dp = past.dims.days + 1;
    for (let p = 0; p < cutStore.dims.posts; p++) {
      for (let d = 0; d <= day; d++) {
        expect(cutStore.postViewsCum[p * D + d]).toBe(past.postViewsCum[p * Dp + d]);
        expect(cutStore.postLikesCum[p * D + d]).toBe(past.postLikesCum[p * Dp + d]);
      }
      expect(cutStore.postViewsCum[p * D + D - 1]).toBe(cutStore.postViewsCum[p * D + day]);
    }
    for (let u = 0; u < cutStore.dims.users; u++)
      expect(cutStore.userViewsCum[u * D + D - 1]).toBe(past.userViewsCum[u * Dp + day]);
    expect(cutStore.globalCum[D - 1]).toBe(past.globalCum[day]);
  });
});
