import { DAY0_MS, DAY_MS, DAYS, TOPIC_COUNT, type WorldSpec } from './constants.js';
import { AGE_BUCKETS, ageBucket, PARAMS } from './params.js';
import type { PostCodes } from './posts.js';
import { SUBTOPIC_COUNT } from './posts.js';
import { Rng, STREAM } from './rng.js';
import type { UserCodes } from './users.js';

const T = TOPIC_COUNT;
const FAV = 3;

/** Which parts of the logit a scorer may use. */
export type Knowledge = 'truth' | 'public';

/**
 * The hidden ground truth, laid out for speed:
 *   logit(u, p, t) = userTopic[u, topic(p)] + postEffect[p] + ageSub[age(u), sub(p)]
 *                  + favourite boost(u, sub(p)) + dayTopic[day(t), topic(p)] + hour[hour(t)]
 *                  + likedDrop (when u liked p before t)
 * `public` replaces the individual parts (activity, topic offsets, favourite sub-topics) by their
 * population averages and drops the sub-topic tastes: what demographics, topic, post popularity
 * and time can tell.
 */
export class Truth {
  readonly userTopic: Float32Array;
  readonly userTopicPublic: Float32Array;
  readonly favSub: Int16Array;
  readonly favBoost: Float32Array;
  readonly userAge: Uint8Array;
  readonly ageSub: Float32Array;
  readonly subFavMean: Float32Array;
  readonly dayTopic: Float32Array;
  readonly hour: Float32Array;
  private readonly subScratch = new Float64Array(SUBTOPIC_COUNT);
  private readonly topicScratch = new Float64Array(T);

  constructor(
    spec: WorldSpec,
    users: UserCodes,
    readonly posts: PostCodes,
  ) {
    const rng = new Rng(spec.seed, STREAM.tastes);
    const n = users.age.length;
    const table = (levels: number, sd: number) => {
      const t = Float32Array.from({ length: levels * T }, () => sd * rng.normal());
      // Centred over levels and over topics, so the main effects (tech least liked, exp_group,
      // gender) stay as PARAMS sets them and the tables only reorder topics.
      for (let k = 0; k < T; k++) {
        let m = 0;
        for (let l = 0; l < levels; l++) m += t[l * T + k]!;
        for (let l = 0; l < levels; l++) t[l * T + k]! -= m / levels;
      }
      for (let l = 0; l < levels; l++) {
        let m = 0;
        for (let k = 0; k < T; k++) m += t[l * T + k]!;
        for (let k = 0; k < T; k++) t[l * T + k]! -= m / T;
      }
      return t;
    };
    const tAge = table(AGE_BUCKETS, PARAMS.taste.age);
    const tCountry = table(11, PARAMS.taste.country);
    const tGender = table(2, PARAMS.taste.gender);
    const tOs = table(2, PARAMS.taste.os);
    const tSource = table(2, PARAMS.taste.source);
    const tExp = table(5, PARAMS.taste.expGroup);
    this.ageSub = Float32Array.from({ length: AGE_BUCKETS * SUBTOPIC_COUNT }, () => 0);
    for (let s = 0; s < SUBTOPIC_COUNT; s++) {
      let m = 0;
      for (let a = 0; a < AGE_BUCKETS; a++) m += this.ageSub[a * SUBTOPIC_COUNT + s] = rng.normal();
      for (let a = 0; a < AGE_BUCKETS; a++)
        this.ageSub[a * SUBTOPIC_COUNT + s] =
          PARAMS.ageSubtopic * (this.ageSub[a * SUBTOPIC_COUNT + s]! - m / AGE_BUCKETS);
    }
    const subPop = Float64Array.from({ length: SUBTOPIC_COUNT }, () =>
      rng.gamma(PARAMS.subtopicPopularityShape),
    );

    this.userTopic = new Float32Array(n * T);
    this.userTopicPublic = new Float32Array(n * T);
    this.favSub = new Int16Array(n * FAV).fill(-1);
    this.favBoost = new Float32Array(n * FAV);
    this.userAge = new Uint8Array(n);
    const subFavSum = new Float64Array(SUBTOPIC_COUNT);
    const [bLo, bHi] = PARAMS.favouriteBoost;
    for (let u = 0; u < n; u++) {
      const a = ageBucket(users.age[u]!);
      this.userAge[u] = a;
      const c = users.country[u]!;
      const g = users.gender[u]!;
      const os = users.os[u]!;
      const src = users.source[u]!;
      const e = users.expGroup[u]!;
      const activity = PARAMS.activity * rng.normal();
      for (let k = 0; k < T; k++) {
        const pub =
          PARAMS.base +
          PARAMS.topicBase[k]! +
          PARAMS.expGroup[e]! +
          PARAMS.gender[g]! +
          tAge[a * T + k]! +
          tCountry[c * T + k]! +
          tGender[g * T + k]! +
          tOs[os * T + k]! +
          tSource[src * T + k]! +
          tExp[e * T + k]!;
        this.userTopicPublic[u * T + k] = pub;
        this.userTopic[u * T + k] = pub + activity + PARAMS.topicOffset * rng.normal();
      }
      const nFav = 1 + rng.pick(PARAMS.favouriteCount);
      for (let f = 0; f < nFav; f++) {
        let s: number;
        do s = rng.pick(subPop);
        while (this.favSub.subarray(u * FAV, u * FAV + f).includes(s));
        const b = rng.range(bLo, bHi);
        this.favSub[u * FAV + f] = s;
        this.favBoost[u * FAV + f] = b;
        subFavSum[s]! += b;
      }
    }
    this.subFavMean = Float32Array.from(subFavSum, (v) => v / Math.max(1, n));

    this.dayTopic = new Float32Array(DAYS * T);
    const firstDow = new Date(DAY0_MS).getUTCDay();
    for (let d = 0; d < DAYS; d++) {
      const f = d / (DAYS - 1);
      const dow = (firstDow + d) % 7;
      const weekend = dow === 0 || dow === 6 ? PARAMS.weekend : 0;
      for (let k = 0; k < T; k++)
        this.dayTopic[d * T + k] = PARAMS.trend * f + weekend + PARAMS.topicTrend[k]! * (f - 0.5);
    }
    this.hour = Float32Array.from(
      { length: 24 },
      (_, h) => PARAMS.hourAmp * Math.cos((2 * Math.PI * (h + 0.5 - PARAMS.hourPeak)) / 24),
    );
  }

  /** Day index (clamped to the period) and hour of a time given in ms. */
  static dayHour(tMs: number): [number, number] {
    const rel = tMs - DAY0_MS;
    const day = Math.min(DAYS - 1, Math.max(0, Math.floor(rel / DAY_MS)));
    const hour = Math.floor((((rel % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000);
    return [day, hour];
  }

  favourite(u: number, s: number): number {
    const o = u * FAV;
    const f = this.favSub;
    return f[o] === s
      ? this.favBoost[o]!
      : f[o + 1] === s
        ? this.favBoost[o + 1]!
        : f[o + 2] === s
          ? this.favBoost[o + 2]!
          : 0;
  }

  /** The logit without the liked-before drop, for a day index and hour. */
  logitAt(u: number, p: number, day: number, hour: number): number {
    const k = this.posts.topic[p]!;
    const s = this.posts.subtopic[p]!;
    return (
      this.userTopic[u * T + k]! +
      this.posts.effect[p]! +
      this.ageSub[this.userAge[u]! * SUBTOPIC_COUNT + s]! +
      this.favourite(u, s) +
      this.dayTopic[day * T + k]! +
      this.hour[hour]!
    );
  }

  probability(u: number, p: number, tMs: number, likedBefore: boolean): number {
    const [day, hour] = Truth.dayHour(tMs);
    const z = this.logitAt(u, p, day, hour) + (likedBefore ? PARAMS.likedDrop : 0);
    return 1 / (1 + Math.exp(-z));
  }

  /** P (or the public-knowledge score, a logit) for every post at tMs. */
  scoreAll(u: number, tMs: number, out: Float64Array, knowledge: Knowledge = 'truth'): void {
    const [day, hour] = Truth.dayHour(tMs);
    const tb = this.topicScratch;
    const sb = this.subScratch;
    const ut = knowledge === 'truth' ? this.userTopic : this.userTopicPublic;
    for (let k = 0; k < T; k++) tb[k] = ut[u * T + k]! + this.dayTopic[day * T + k]! + this.hour[hour]!;
    const ao = this.userAge[u]! * SUBTOPIC_COUNT;
    for (let s = 0; s < SUBTOPIC_COUNT; s++)
      sb[s] = knowledge === 'truth' ? this.ageSub[ao + s]! + this.favourite(u, s) : this.subFavMean[s]!;
    const { topic, subtopic, effect } = this.posts;
    const n = topic.length;
    if (knowledge === 'truth') {
      for (let p = 0; p < n; p++)
        out[p] = 1 / (1 + Math.exp(-(tb[topic[p]!]! + sb[subtopic[p]!]! + effect[p]!)));
    } else {
      for (let p = 0; p < n; p++) out[p] = tb[topic[p]!]! + sb[subtopic[p]!]! + effect[p]!;
    }
  }
}
