import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOPIC_COUNT } from '../../src/world/constants.js';
import { feedCsv, postsCsv, usersCsv } from '../../src/world/csv.js';
import { FeedGenerator, KIND_LIKE } from '../../src/world/feed.js';
import { createWorldModel, type WorldModel } from '../../src/world/world.js';

/** Pearson correlation of two equally long series (0 when either is constant). */
function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]! / n;
    my += y[i]! / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

/** Share of a user's first views of a post that fall in their favourite sub-topics, and of views going to the 10 % most popular posts. */
function exposureFigures(world: WorldModel, popularity: Float64Array) {
  const gen = new FeedGenerator(world);
  const topic = world.postCodes.topic;
  // Per user: how far the views of each topic exceed the topic's share of posts, against the
  // user's hidden topic taste; averaged over users.
  const postsOfTopic = new Float64Array(TOPIC_COUNT);
  for (let p = 0; p < topic.length; p++) postsOfTopic[topic[p]!]!++;
  let affinity = 0;
  const topicViews = new Float64Array(TOPIC_COUNT);
  const lift = new Float64Array(TOPIC_COUNT);
  let favourite = 0;
  let first = 0;
  let views = 0;
  const postViews = new Float64Array(world.posts.length);
  for (let u = 0; u < world.users.length; u++) {
    const log = gen.generate(u);
    const seen = new Set<number>();
    topicViews.fill(0);
    let userViews = 0;
    for (let i = 0; i < log.length; i++) {
      if (log.kind[i] === KIND_LIKE) continue;
      const p = log.post[i]!;
      views++;
      userViews++;
      postViews[p]!++;
      topicViews[topic[p]!]!++;
      if (seen.has(p)) continue;
      seen.add(p);
      first++;
      if (world.truth.favourite(u, world.postCodes.subtopic[p]!) > 0) favourite++;
    }
    for (let t = 0; t < TOPIC_COUNT; t++)
      lift[t] = Math.log((topicViews[t]! + 0.5) / ((userViews * postsOfTopic[t]!) / topic.length + 0.5));
    affinity += correlation(lift, world.truth.userTopic.subarray(u * TOPIC_COUNT, (u + 1) * TOPIC_COUNT));
  }
  // Posts the feed shows: view counts against the hidden popularity (log scale).
  const shown = [...popularity.keys()].filter((p) => popularity[p]! > 0);
  const byPopularity = [...popularity.keys()].sort((a, b) => popularity[b]! - popularity[a]!);
  const top = byPopularity.slice(0, Math.round(0.1 * byPopularity.length));
  return {
    favouriteShare: favourite / first,
    topPopularShare: top.reduce((s, p) => s + postViews[p]!, 0) / views,
    viewsPerUser: views / world.users.length,
    popularityCorrelation: correlation(
      shown.map((p) => Math.log(postViews[p]! + 1)),
      shown.map((p) => Math.log(popularity[p]!)),
    ),
    tasteCorrelation: affinity / world.users.length,
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

  it('in a taste world, views follow popularity and each user’s taste, far above the random feed', () => {
    const r = exposureFigures(random, popularity);
    const t = exposureFigures(taste, popularity);
    // Random feed: favourites get their share of posts, popular posts about their share of views.
    expect(r.favouriteShare).toBeLessThan(0.08);
    expect(r.topPopularShare).toBeLessThan(0.15);
    // Taste: twice the share in favourites (0.057 → 0.115 measured), a third of views to the
    // 10 % most popular posts (0.116 → 0.383).
    expect(t.favouriteShare).toBeGreaterThan(1.7 * r.favouriteShare);
    expect(t.topPopularShare).toBeGreaterThan(0.3);
    // View counts follow the hidden popularity (log-log correlation 0.17 → 0.93 measured; the
    // random feed's 0.17 is its own mild per-post weights) and each user's topic views follow
    // their hidden topic taste (mean per-user correlation −0.02 → 0.59).
    expect(r.popularityCorrelation).toBeLessThan(0.3);
    expect(t.popularityCorrelation).toBeGreaterThan(0.8);
    expect(Math.abs(r.tasteCorrelation)).toBeLessThan(0.1);
    expect(t.tasteCorrelation).toBeGreaterThan(0.45);
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
