import { beforeAll, describe, expect, it } from 'vitest';
import { REAL, TOPICS } from '../../src/world/index.js';
import {
  feedStats,
  hitrates,
  likeRate,
  pooledRate,
  type FeedStats,
  type HitrateFigures,
} from '../../src/world/stats.js';
import { createWorldModel, type WorldModel } from '../../src/world/world.js';

// The demo world (seed 1) against the real figures of DESIGN.md section 2. The statistics come
// from the same generator that writeWorld streams into the database (write.test.ts proves the
// written tables match it). Tolerances: shares within ±2 points, means and rates within ±10 %.

const within = (actual: number, target: number, rel = 0.1) => {
  expect(actual).toBeGreaterThanOrEqual(target * (1 - rel));
  expect(actual).toBeLessThanOrEqual(target * (1 + rel));
};
const share = (actual: number, target: number) => {
  expect(actual).toBeGreaterThanOrEqual(target - 0.02);
  expect(actual).toBeLessThanOrEqual(target + 0.02);
};
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('demo world calibration', () => {
  let world: WorldModel;
  let feed: FeedStats;
  let hr: HitrateFigures;

  beforeAll(() => {
    world = createWorldModel({ seed: 1, scale: 'demo' });
    feed = feedStats(world);
    hr = hitrates(world, 2000);
  });

  describe('users', () => {
    it('has 10,000 users with ids inside the real range', () => {
      expect(world.users).toHaveLength(10_000);
      expect(world.users[0]!.userId).toBeGreaterThanOrEqual(200);
      expect(world.users.at(-1)!.userId).toBeLessThanOrEqual(168_552);
    });

    it('matches the age distribution', () => {
      const ages = world.users.map((u) => u.age).sort((a, b) => a - b);
      expect(ages[0]).toBeGreaterThanOrEqual(14);
      expect(ages.at(-1)).toBeLessThanOrEqual(95);
      within(mean(ages), REAL.age.mean);
      const m = mean(ages);
      within(Math.sqrt(mean(ages.map((a) => (a - m) ** 2))), REAL.age.sd);
      expect(Math.abs(quantile(ages, 0.25) - REAL.age.q1)).toBeLessThanOrEqual(1);
      expect(Math.abs(quantile(ages, 0.5) - REAL.age.median)).toBeLessThanOrEqual(1);
      expect(Math.abs(quantile(ages, 0.75) - REAL.age.q3)).toBeLessThanOrEqual(1);
    });

    it('matches the shares of countries, big cities, os, source, gender and exp_group', () => {
      const n = world.users.length;
      const frac = (f: (u: WorldModel['users'][number]) => boolean) => world.users.filter(f).length / n;
      for (const [country, s] of Object.entries(REAL.countries))
        share(
          frac((u) => u.country === country),
          s,
        );
      expect(new Set(world.users.map((u) => u.country)).size).toBeGreaterThanOrEqual(10);
      share(
        frac((u) => u.city === 'Moscow'),
        REAL.moscowShare,
      );
      share(
        frac((u) => u.city === 'Saint Petersburg'),
        REAL.spbShare,
      );
      share(
        frac((u) => u.os === 'Android'),
        REAL.androidShare,
      );
      share(
        frac((u) => u.source === 'ads'),
        REAL.adsShare,
      );
      share(
        frac((u) => u.gender === 1),
        REAL.gender1Share,
      );
      for (let g = 0; g < 5; g++)
        share(
          frac((u) => u.expGroup === g),
          0.2,
        );
    });

    it('has a long tail of cities (all 3,915 at full scale)', () => {
      expect(new Set(world.users.map((u) => u.city)).size).toBeGreaterThan(1000);
      const full = createWorldModel({ seed: 1, scale: 'full' });
      expect(full.users).toHaveLength(REAL.users);
      expect(new Set(full.users.map((u) => u.city)).size).toBe(REAL.cities);
    });
  });

  describe('posts', () => {
    it('has the real topic counts and ids', () => {
      expect(world.posts).toHaveLength(REAL.posts);
      const counts = TOPICS.map((t) => world.posts.filter((p) => p.topic === t).length);
      expect(counts).toEqual([3000, 1799, 510, 510, 417, 401, 386]);
      expect(world.posts[0]!.postId).toBeGreaterThanOrEqual(1);
      expect(world.posts.at(-1)!.postId).toBeLessThanOrEqual(7_319);
    });

    it('has text lengths like the real ones: covid short, news long', () => {
      const lens = world.posts.map((p) => p.text.length).sort((a, b) => a - b);
      expect(lens[0]).toBe(REAL.textLength.min);
      expect(lens.at(-1)).toBe(REAL.textLength.max);
      within(quantile(lens, 0.5), REAL.textLength.median);
      within(mean(lens), REAL.textLength.mean);
      const median = (t: string) =>
        quantile(
          world.posts
            .filter((p) => p.topic === t)
            .map((p) => p.text.length)
            .sort((a, b) => a - b),
          0.5,
        );
      expect(median('covid')).toBeLessThan(median('movie'));
      expect(median('movie')).toBeLessThan(median('politics'));
    });
  });

  describe('feed log', () => {
    it('has about 421 views and 50 likes per user, like rate 0.12', () => {
      within(feed.views / world.users.length, REAL.viewsPerUser);
      within(feed.likes / world.users.length, REAL.likesPerUser);
      within(feed.likes / feed.views, REAL.likeRate);
      expect(feed.rows).toBe(feed.views + feed.likes);
    });

    it('logs views only from 06:00 to 23:59 inside the period, likes 60-120 s after their view', () => {
      expect([...feed.viewHours.subarray(0, 6)]).toEqual([0, 0, 0, 0, 0, 0]);
      expect(feed.minTimeSec).toBeGreaterThanOrEqual(6 * 3600 + 60);
      expect(feed.maxTimeSec).toBeLessThanOrEqual(89 * 86_400 + 23 * 3600 + 51 * 60);
      expect(feed.likeDelayMin).toBeGreaterThanOrEqual(60);
      expect(feed.likeDelayMax).toBeLessThanOrEqual(120);
    });

    it('has repeat views and about 0.85 % repeated likes', () => {
      expect(feed.repeatViews / feed.views).toBeGreaterThan(0.02);
      const repeat = feed.repeatLikes / feed.likes;
      expect(repeat).toBeGreaterThanOrEqual(0.0055);
      expect(repeat).toBeLessThanOrEqual(0.0115);
    });

    it('shows nearly random posts: 192 never shown, three mild clusters of view counts', () => {
      const shown = [...feed.postViews].filter((v) => v > 0).sort((a, b) => a - b);
      expect(world.posts.length - shown.length).toBe(REAL.unshownPosts);
      const m = mean(shown);
      const realMean = REAL.views / (REAL.posts - REAL.unshownPosts);
      within(shown[0]! / m, REAL.postViews.min / realMean, 0.15);
      within(shown.at(-1)! / m, REAL.postViews.max / realMean, 0.15);
      const high = shown.filter((v) => v > 1.5 * m).length / shown.length;
      share(high, 0.1);
    });

    it('has per-post like shares in the real band (wider by the demo sampling noise)', () => {
      const shares = [...feed.postViews]
        .map((v, i) => (v > 0 ? feed.postLikes[i]! / v : NaN))
        .filter((x) => !Number.isNaN(x))
        .sort((a, b) => a - b);
      expect(quantile(shares, 0.01)).toBeGreaterThanOrEqual(REAL.postLikeShare.min - 0.01);
      expect(quantile(shares, 0.99)).toBeLessThanOrEqual(REAL.postLikeShare.max + 0.02);
    });

    it('has the rising like-rate trend 0.093 → 0.136', () => {
      within(pooledRate(feed.byDay.slice(0, 7)), REAL.likeRateFirstWeek);
      within(pooledRate(feed.byDay.slice(-7)), REAL.likeRateLastWeek);
    });

    it('likes more in the evening (19-21 h ≈ 0.14) than at midday (10-14 h ≈ 0.105)', () => {
      within(pooledRate(feed.byHour.slice(19, 22)), REAL.likeRateEvening);
      within(pooledRate(feed.byHour.slice(10, 15)), REAL.likeRateMidday);
    });

    it('has exp_group 1-2 liking more than 0 and 3, gender 1 more than 0', () => {
      const g = feed.byExpGroup.map(likeRate);
      within(pooledRate([feed.byExpGroup[1]!, feed.byExpGroup[2]!]), REAL.likeRateExpGroup12);
      within(pooledRate([feed.byExpGroup[0]!, feed.byExpGroup[3]!]), REAL.likeRateExpGroup03);
      expect(Math.min(g[1]!, g[2]!)).toBeGreaterThan(Math.max(g[0]!, g[3]!));
      within(likeRate(feed.byGender[1]!), REAL.likeRateGender1);
      within(likeRate(feed.byGender[0]!), REAL.likeRateGender0);
      expect(likeRate(feed.byGender[1]!)).toBeGreaterThan(likeRate(feed.byGender[0]!));
    });

    it('has tech as the least liked topic', () => {
      const rates = feed.byTopic.map(likeRate);
      expect(rates.indexOf(Math.min(...rates))).toBe(TOPICS.indexOf('tech'));
    });
  });

  describe('difficulty (expected Hitrate@5 over 2,000 (user, time) pairs)', () => {
    it('gives a uniformly random top-5 about 1 − 0.88^5', () => {
      expect(hr.random).toBeGreaterThanOrEqual(0.44);
      expect(hr.random).toBeLessThanOrEqual(0.5);
    });

    it('lets public information (demographics, topic, post popularity, time) pass the control bar', () => {
      expect(hr.publicOracle).toBeGreaterThanOrEqual(0.56);
    });

    it('rewards sub-topic and individual taste learned from the user history', () => {
      // Even from the log before t only, as features computed "as of t" see it.
      expect(hr.historyBeforeT).toBeGreaterThanOrEqual(0.57);
      expect(hr.historyBeforeT - hr.publicOracle).toBeGreaterThanOrEqual(0.03);
      expect(hr.historyModel).toBeGreaterThanOrEqual(hr.historyBeforeT);
    });

    it('puts the oracle well above the bars', () => {
      expect(hr.oracle).toBeGreaterThanOrEqual(0.7);
    });
  });
});
