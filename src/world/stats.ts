import { DAYS, PERIOD, DAY0_MS, FIRST_HOUR, TOPIC_COUNT } from './constants.js';
import { FeedGenerator, KIND_LIKE, KIND_VIEW_LIKED } from './feed.js';
import { SUBTOPIC_COUNT } from './posts.js';
import { Rng } from './rng.js';
import type { WorldModel } from './world.js';

// Figures of a generated world, computed from the same in-memory generation that writeWorld
// streams into the database (byte-identical), for the calibration tests and the report.

export interface Rate {
  views: number;
  likes: number;
}
const rate = (r: Rate) => (r.views ? r.likes / r.views : NaN);
const newRates = (n: number): Rate[] => Array.from({ length: n }, () => ({ views: 0, likes: 0 }));

export interface FeedStats {
  rows: number;
  views: number;
  likes: number;
  repeatLikes: number;
  repeatViews: number;
  minTimeSec: number;
  maxTimeSec: number;
  viewHours: Int32Array;
  byWeek: Rate[];
  byDay: Rate[];
  byHour: Rate[];
  byExpGroup: Rate[];
  byGender: Rate[];
  byTopic: Rate[];
  postViews: Int32Array;
  postLikes: Int32Array;
  likeDelayMin: number;
  likeDelayMax: number;
}

export function feedStats(world: WorldModel): FeedStats {
  const gen = new FeedGenerator(world);
  const nPosts = world.posts.length;
  const s: FeedStats = {
    rows: 0,
    views: 0,
    likes: 0,
    repeatLikes: 0,
    repeatViews: 0,
    minTimeSec: Infinity,
    maxTimeSec: -Infinity,
    viewHours: new Int32Array(24),
    byWeek: newRates(Math.ceil(DAYS / 7)),
    byDay: newRates(DAYS),
    byHour: newRates(24),
    byExpGroup: newRates(5),
    byGender: newRates(2),
    byTopic: newRates(TOPIC_COUNT),
    postViews: new Int32Array(nPosts),
    postLikes: new Int32Array(nPosts),
    likeDelayMin: Infinity,
    likeDelayMax: -Infinity,
  };
  const seen = new Uint8Array(nPosts);
  const touched: number[] = [];
  const { topic } = world.postCodes;
  for (let u = 0; u < world.users.length; u++) {
    const log = gen.generate(u);
    const eg = s.byExpGroup[world.userCodes.expGroup[u]!]!;
    const gd = s.byGender[world.userCodes.gender[u]!]!;
    for (let i = 0; i < log.length; i++) {
      const t = log.time[i]!;
      const p = log.post[i]!;
      if (t < s.minTimeSec) s.minTimeSec = t;
      if (t > s.maxTimeSec) s.maxTimeSec = t;
      if (log.kind[i] === KIND_LIKE) {
        s.likes++;
        s.postLikes[p]!++;
        if (seen[p]! & 2) s.repeatLikes++;
        else touched.push(p);
        seen[p]! |= 2;
        const d = t - log.time[i - 1]!;
        if (d < s.likeDelayMin) s.likeDelayMin = d;
        if (d > s.likeDelayMax) s.likeDelayMax = d;
        continue;
      }
      const liked = log.kind[i] === KIND_VIEW_LIKED ? 1 : 0;
      s.views++;
      s.postViews[p]!++;
      if (seen[p]! & 1) s.repeatViews++;
      else touched.push(p);
      seen[p]! |= 1;
      const day = Math.floor(t / 86_400);
      const hour = Math.floor((t % 86_400) / 3600);
      s.viewHours[hour]!++;
      for (const r of [
        s.byWeek[Math.floor(day / 7)]!,
        s.byDay[day]!,
        s.byHour[hour]!,
        eg,
        gd,
        s.byTopic[topic[p]!]!,
      ]) {
        r.views++;
        r.likes += liked;
      }
    }
    s.rows += log.length;
    for (const p of touched) seen[p] = 0;
    touched.length = 0;
  }
  return s;
}

export const likeRate = rate;

/** The like rate over a set of buckets (days, hours, groups). */
export function pooledRate(rates: Rate[]): number {
  let v = 0;
  let l = 0;
  for (const r of rates) {
    v += r.views;
    l += r.likes;
  }
  return l / v;
}

export interface HitrateFigures {
  pairs: number;
  random: number;
  publicOracle: number;
  /** Public knowledge plus sub-topic tastes estimated from the user's own log: what a text + history model can learn. */
  historyModel: number;
  /** The same estimate from the log before t only (what features computed "as of t" see). */
  historyBeforeT: number;
  oracle: number;
}

/**
 * Expected Hitrate@5 (1 − Π(1 − P)) over sampled (user, time) pairs in active hours, of a
 * uniformly random top-5, the public-information oracle, a history-informed estimate and the
 * oracle (top 5 by true P). All exclude posts the user liked before t, as the service must.
 */
export function hitrates(world: WorldModel, pairs = 2000, seed = 12345): HitrateFigures {
  const rng = new Rng(seed, 0x417);
  const gen = new FeedGenerator(world);
  const n = world.posts.length;
  const P = new Float64Array(n);
  const pub = new Float64Array(n);
  const est = new Float64Array(n);
  const liked = new Uint8Array(n);
  const subViews = new Float64Array(SUBTOPIC_COUNT);
  const subLikes = new Float64Array(SUBTOPIC_COUNT);
  const pastViews = new Float64Array(SUBTOPIC_COUNT);
  const pastLikes = new Float64Array(SUBTOPIC_COUNT);
  const past = new Float64Array(n);
  const { subtopic } = world.postCodes;
  const sums = { random: 0, publicOracle: 0, historyModel: 0, historyBeforeT: 0, oracle: 0 };
  const expectedHit = (order: number[]) => {
    let miss = 1;
    for (const p of order) miss *= 1 - P[p]!;
    return 1 - miss;
  };
  for (let k = 0; k < pairs; k++) {
    const u = rng.int(world.users.length);
    const day = rng.int(DAYS);
    const tMs = Math.min(
      PERIOD.endMs,
      Math.max(
        PERIOD.startMs,
        DAY0_MS + day * 86_400_000 + (FIRST_HOUR + rng.next() * (24 - FIRST_HOUR)) * 3_600_000,
      ),
    );
    const tSec = Math.floor((tMs - DAY0_MS) / 1000);
    const log = gen.generate(u);
    liked.fill(0);
    subViews.fill(0);
    subLikes.fill(0);
    pastViews.fill(0);
    pastLikes.fill(0);
    let views = 0;
    let likes = 0;
    let pViews = 0;
    let pLikes = 0;
    for (let i = 0; i < log.length; i++) {
      const p = log.post[i]!;
      if (log.kind[i] === KIND_LIKE) {
        if (log.time[i]! < tSec) liked[p] = 1;
        continue;
      }
      const l = log.kind[i] === KIND_VIEW_LIKED ? 1 : 0;
      views++;
      likes += l;
      subViews[subtopic[p]!]! += 1;
      subLikes[subtopic[p]!]! += l;
      if (log.time[i]! < tSec) {
        pViews++;
        pLikes += l;
        pastViews[subtopic[p]!]! += 1;
        pastLikes[subtopic[p]!]! += l;
      }
    }
    world.truth.scoreAll(u, tMs, P, 'truth');
    for (let p = 0; p < n; p++) if (liked[p]) P[p] = world.likeProbability(u, p, tMs, true);
    world.truth.scoreAll(u, tMs, pub, 'public');
    const subEst = shrunkLogOdds(subViews, subLikes, views, likes);
    for (let p = 0; p < n; p++) est[p] = pub[p]! + subEst[subtopic[p]!]!;
    const pastEst = shrunkLogOdds(pastViews, pastLikes, pViews, pLikes);
    for (let p = 0; p < n; p++) past[p] = pub[p]! + pastEst[subtopic[p]!]!;
    const top = (score: Float64Array) => topK(score, liked, 5);
    sums.oracle += expectedHit(top(P));
    sums.publicOracle += expectedHit(top(pub));
    sums.historyModel += expectedHit(top(est));
    sums.historyBeforeT += expectedHit(top(past));
    let rnd = 0;
    const draws = 8;
    for (let d = 0; d < draws; d++) {
      const pick = new Set<number>();
      while (pick.size < 5) {
        const p = rng.int(n);
        if (!liked[p]) pick.add(p);
      }
      rnd += expectedHit([...pick]);
    }
    sums.random += rnd / draws;
  }
  return {
    pairs,
    random: sums.random / pairs,
    publicOracle: sums.publicOracle / pairs,
    historyModel: sums.historyModel / pairs,
    historyBeforeT: sums.historyBeforeT / pairs,
    oracle: sums.oracle / pairs,
  };
}

/** Shrunk log-odds of the user's like rate in each sub-topic against the user's overall rate. */
function shrunkLogOdds(
  subViews: Float64Array,
  subLikes: Float64Array,
  views: number,
  likes: number,
): Float64Array {
  const r = (likes + 1) / (views + 8);
  const lr = Math.log(r / (1 - r));
  const m = 6;
  return Float64Array.from(subViews, (v, s) => {
    const q = (subLikes[s]! + m * r) / (v + m);
    return Math.log(q / (1 - q)) - lr;
  });
}

function topK(score: Float64Array, exclude: Uint8Array, k: number): number[] {
  const best: number[] = [];
  for (let p = 0; p < score.length; p++) {
    if (exclude[p]) continue;
    if (best.length < k) {
      best.push(p);
      best.sort((a, b) => score[b]! - score[a]!);
    } else if (score[p]! > score[best[k - 1]!]!) {
      best[k - 1] = p;
      best.sort((a, b) => score[b]! - score[a]!);
    }
  }
  return best;
}
