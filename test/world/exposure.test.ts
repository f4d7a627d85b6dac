import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { feedCsv, postsCsv, usersCsv } from '../../src/world/csv.js';
import { FeedGenerator, KIND_LIKE } from '../../src/world/feed.js';
import { createWorldModel, type WorldModel } from '../../src/world/world.js';

/** Share of a user's first views of a post that fall in their favourite sub-topics, and of views going to the 10 % most popular posts. */
function exposureFigures(world: WorldModel, popularity: Float64Array) {
  const gen = new FeedGenerator(world);
  let favourite = 0;
  let first = 0;
  let views = 0;
  const postViews = new Float64Array(world.posts.length);
  for (let u = 0; u < world.users.length; u++) {
    const log = gen.generate(u);
    const seen = new Set<number>();
    for (let i = 0; i < log.length; i++) {
      if (log.kind[i] === KIND_LIKE) continue;
      const p = log.post[i]!;
      views++;
      postViews[p]!++;
      if (seen.has(p)) continue;
      seen.add(p);
      first++;
      if (world.truth.favourite(u, world.postCodes.subtopic[p]!) > 0) favourite++;
    }
  }
  const byPopularity = [...popularity.keys()].sort((a, b) => popularity[b]! - popularity[a]!);
  const top = byPopularity.slice(0, Math.round(0.1 * byPopularity.length));
  return {
    favouriteShare: favourite / first,
    topPopularShare: top.reduce((s, p) => s + postViews[p]!, 0) / views,
    viewsPerUser: views / world.users.length,
  };
}

describe('exposure: which posts users view', () => {
  const random = createWorldModel({ seed: 3, scale: 'tiny' });
  const taste = createWorldModel({ seed: 3, scale: 'tiny', exposure: 'taste' });
  const popularity = taste.exposure!.popularity;

  it('keeps the random feed byte for byte what it was before exposures existed', () => {
    // sha256 of the tiny world (seed 3) tables, recorded before the exposure option was added.
    const h = createHash('sha256');
    const explicit = createWorldModel({ seed: 3, scale: 'tiny', exposure: 'random' });
    for (const chunk of [...usersCsv(explicit), ...postsCsv(explicit), ...feedCsv(explicit)]) h.update(chunk);
    expect(h.digest('hex')).toBe('684ca0597cf24adc9e3b309ac51a53479cf17fed1807a7f28dc0655ff57f2c07');
    expect(random.spec).toEqual({ seed: 3, scale: 'tiny' });
    expect(random.exposure).toBeNull();
  });

  it('in a taste world, users view their favourite sub-topics and popular posts far more often', () => {
    const r = exposureFigures(random, popularity);
    const t = exposureFigures(taste, popularity);
    // Random feed: favourites get their share of posts, popular posts about their share of views.
    expect(r.favouriteShare).toBeLessThan(0.08);
    expect(r.topPopularShare).toBeLessThan(0.15);
    // Taste: twice the share in favourites (0.057 → 0.115 measured), a third of views to the
    // 10 % most popular posts (0.116 → 0.383).
    expect(t.favouriteShare).toBeGreaterThan(1.7 * r.favouriteShare);
    expect(t.topPopularShare).toBeGreaterThan(0.3);
    // The same users view as much; only what they open changes.
    expect(t.viewsPerUser).toBeCloseTo(r.viewsPerUser, 0);
  });

  it('keeps the ground truth of a like given a view', () => {
    const t = Date.parse('2021-11-20T19:00:00Z');
    for (const [u, p] of [
      [0, 0],
      [17, 300],
      [299, 702],
    ] as const) {
      expect(taste.likeProbability(u, p, t, false)).toBe(random.likeProbability(u, p, t, false));
      expect(taste.likeProbability(u, p, t, true)).toBe(random.likeProbability(u, p, t, true));
    }
    expect(taste.users).toEqual(random.users);
    expect(taste.posts).toEqual(random.posts);
  });

  it('is a pure function of the seed, and rejects an unknown exposure', () => {
    const again = new FeedGenerator(createWorldModel({ seed: 3, scale: 'tiny', exposure: 'taste' })).generate(
      5,
    );
    const first = new FeedGenerator(taste).generate(5);
    expect(Array.from(again.post.subarray(0, again.length))).toEqual(
      Array.from(first.post.subarray(0, first.length)),
    );
    expect(() => createWorldModel({ seed: 3, scale: 'tiny', exposure: 'clicks' as never })).toThrow(
      /exposure/,
    );
  });
});
