import { describe, expect, it } from 'vitest';
import { createWorld, PERIOD, SCALE_SIZES, TOPICS } from '../../src/world/index.js';

describe('world model', () => {
  const world = createWorld({ seed: 7, scale: 'tiny' });

  it('has the scale sizes, sorted ids with gaps inside the real ranges', () => {
    expect(world.users).toHaveLength(SCALE_SIZES.tiny.users);
    expect(world.posts).toHaveLength(703);
    const uids = world.users.map((u) => u.userId);
    expect(uids[0]).toBeGreaterThanOrEqual(200);
    expect(uids.at(-1)).toBeLessThanOrEqual(168_552);
    expect(new Set(uids).size).toBe(uids.length);
    expect(uids.every((v, i) => i === 0 || v > uids[i - 1]!)).toBe(true);
    const pids = world.posts.map((p) => p.postId);
    expect(pids[0]).toBeGreaterThanOrEqual(1);
    expect(pids.at(-1)).toBeLessThanOrEqual(733);
    expect(pids.at(-1)! - pids[0]! + 1).toBeGreaterThan(pids.length); // gaps
  });

  it('finds users and posts by id and answers -1 for unknown ids', () => {
    const u = world.users[123]!;
    expect(world.userIndex(u.userId)).toBe(123);
    expect(world.userIndex(199)).toBe(-1);
    expect(world.postIndex(world.posts[77]!.postId)).toBe(77);
    expect(world.postIndex(99_999)).toBe(-1);
  });

  it('uses only the seven real topics', () => {
    expect(TOPICS).toEqual(['movie', 'covid', 'business', 'sport', 'politics', 'tech', 'entertainment']);
    expect(new Set(world.posts.map((p) => p.topic))).toEqual(new Set(TOPICS));
  });

  it('gives probabilities that scoreAllPosts and likeProbability agree on', () => {
    const t = Date.parse('2021-11-15T19:30:00Z');
    const out = new Float64Array(world.posts.length);
    world.scoreAllPosts(5, t, out);
    for (const p of [0, 100, 702]) {
      expect(out[p]).toBeCloseTo(world.likeProbability(5, p, t, false), 12);
      expect(out[p]).toBeGreaterThan(0);
      expect(out[p]).toBeLessThan(1);
    }
  });

  it('drops the probability strongly for a post the user already liked', () => {
    const t = Date.parse('2021-12-01T12:00:00Z');
    const before = world.likeProbability(3, 10, t, false);
    const after = world.likeProbability(3, 10, t, true);
    expect(after).toBeLessThan(before * 0.4);
  });

  it('likes more late in the period and in the evening', () => {
    const p = (iso: string) => world.likeProbability(9, 4, Date.parse(iso), false);
    expect(p('2021-12-28T15:00:00Z')).toBeGreaterThan(p('2021-10-02T15:00:00Z'));
    expect(p('2021-11-10T20:00:00Z')).toBeGreaterThan(p('2021-11-10T11:00:00Z'));
    expect(PERIOD.startMs).toBe(Date.parse('2021-10-01T06:01:00Z'));
    expect(PERIOD.endMs).toBe(Date.parse('2021-12-29T23:51:00Z'));
  });

  it('is a pure function of the seed', () => {
    const again = createWorld({ seed: 7, scale: 'tiny' });
    expect(again.users).toEqual(world.users);
    expect(again.posts.map((p) => p.text)).toEqual(world.posts.map((p) => p.text));
    const other = createWorld({ seed: 8, scale: 'tiny' });
    expect(other.users).not.toEqual(world.users);
  });

  it('rejects a bad spec', () => {
    expect(() => createWorld({ seed: -1, scale: 'tiny' })).toThrow(/seed/);
    expect(() => createWorld({ seed: 1, scale: 'huge' as never })).toThrow(/scale/);
  });
});
