import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import {
  buildFeatures,
  CONTROL_FEATURES,
  fillRow,
  fillUserContext,
  loadFeatureStore,
  newUserContext,
  type FeatureStore,
} from '../../src/features/index.js';
import { ageBand, SEGMENT_BASE, SEGMENT_DIMS, SEGMENTS } from '../../src/features/segments.js';
import { dbVariants } from '../helpers/db.js';
import { loadMini, miniWorld, T0 } from '../fixtures/mini-log.js';

const world = miniWorld(11, 40, 30, 10);
const DAY = 86_400_000;
const dayOf = (ts: number) => Math.floor((ts - Date.UTC(2021, 9, 1)) / DAY);
const likes = world.events.filter((e) => e.action === 'like');
const views = world.events.filter((e) => e.action === 'view');

describe('audience segment aggregates and lifts', () => {
  let db: Database;
  let drop: () => Promise<void>;
  let store: FeatureStore;
  beforeAll(async () => {
    ({ db, drop } = await dbVariants[0]!.fresh());
    await loadMini(db, world);
    await buildFeatures(db);
    ({ store } = await loadFeatureStore(db));
  });
  afterAll(async () => drop?.());

  /** The user ids in segment value `v` of dimension `j`, read from the store's own assignment. */
  const members = (j: number, v: number) =>
    new Set(
      world.userRows
        .map((u) => u.user_id)
        .filter((id) => store.userSegment[store.userIndexById[id]! * SEGMENT_DIMS.length + j] === v),
    );

  it('puts each user in the segment of their profile', () => {
    expect(T0).toBeGreaterThan(0);
    const age = SEGMENT_DIMS.findIndex((d) => d.name === 'age');
    const os = SEGMENT_DIMS.findIndex((d) => d.name === 'os');
    for (const u of world.userRows) {
      const ui = store.userIndexById[u.user_id]!;
      expect(store.userSegment[ui * SEGMENT_DIMS.length + age]).toBe(ageBand(u.age));
      expect(store.userSegment[ui * SEGMENT_DIMS.length + os]).toBe(u.os === 'iOS' ? 1 : 0);
    }
  });

  it('counts views and likes by segment, and likes by post × segment, before each day as the log does', () => {
    const D = store.dims.days + 1;
    let checked = 0;
    for (let j = 0; j < SEGMENT_DIMS.length; j++)
      for (let v = 0; v < SEGMENT_DIMS[j]!.size; v++) {
        const who = members(j, v);
        const s = SEGMENT_BASE[j]! + v;
        for (const d of [0, 3, 7, store.dims.days]) {
          const before = (e: { ts: number; user: number }) => who.has(e.user) && dayOf(e.ts) < d;
          expect(store.segViewsCum[s * D + d]).toBe(views.filter(before).length);
          expect(store.segLikesCum[s * D + d]).toBe(likes.filter(before).length);
          for (const p of world.postRows.slice(0, 6)) {
            const pi = store.postIndexById[p.post_id]!;
            const want = likes.filter((e) => e.post === p.post_id && before(e)).length;
            expect(store.postSegLikesCum[(pi * SEGMENTS + s) * D + d]).toBe(want);
            if (want > 0) checked++;
          }
        }
      }
    expect(checked).toBeGreaterThan(20);
  });

  it("computes a cluster's lift in the user's segment from the other users' likes only", () => {
    const j = SEGMENT_DIMS.findIndex((d) => d.name === 'age');
    const col = CONTROL_FEATURES.indexOf('cluster_lift_age');
    const ctx = newUserContext(store);
    const row = new Float32Array(CONTROL_FEATURES.length);
    const D = store.dims.days + 1;
    let compared = 0;
    for (const like of likes.filter((e) => dayOf(e.ts) < 6).slice(0, 15)) {
      const ui = store.userIndexById[like.user]!;
      const tMs = Date.UTC(2021, 9, 8, 12); // day 7: the like is in the counts before the day
      const d = dayOf(tMs);
      const pi = store.postIndexById[like.post]!;
      const c = store.postCluster[pi]!;
      const v = store.userSegment[ui * SEGMENT_DIMS.length + j]!;
      const who = members(j, v);
      const inCluster = (post: number) => store.postCluster[store.postIndexById[post]!] === c;
      // Brute force from the log: likes of the cluster by the segment's other users before the day.
      const others = likes.filter(
        (e) => who.has(e.user) && e.user !== like.user && dayOf(e.ts) < d && inCluster(e.post),
      ).length;
      const clusterViews = views.filter((e) => dayOf(e.ts) < d && inCluster(e.post)).length;
      const clusterLikes = likes.filter((e) => dayOf(e.ts) < d && inCluster(e.post)).length;
      const allViews = views.filter((e) => dayOf(e.ts) < d).length;
      const allLikes = likes.filter((e) => dayOf(e.ts) < d).length;
      const prior = allLikes / allViews;
      const segViews = views.filter((e) => who.has(e.user) && dayOf(e.ts) < d).length;
      const segLikes = likes.filter((e) => who.has(e.user) && dayOf(e.ts) < d).length;
      const rate = (clusterLikes + 50 * prior) / (clusterViews + 50);
      const expected = clusterViews * (segViews / allViews) * rate * (segLikes / segViews / prior);
      fillUserContext(store, ui, tMs, ctx);
      fillRow(store, ctx, pi, 'control', row, 0);
      expect(row[col]).toBeCloseTo(Math.log((others + 10) / (expected + 10)), 4);
      expect(store.clusterSegLikesCum[(c * SEGMENTS + SEGMENT_BASE[j]! + v) * D + d]).toBeGreaterThan(others);
      compared++;
    }
    expect(compared).toBe(15);
  });
});
