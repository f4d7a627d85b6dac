import { DAYS, FIRST_HOUR, PERIOD, DAY0_MS, TOPIC_COUNT } from './constants.js';
import { PARAMS } from './params.js';
import { SUBTOPIC_COUNT } from './posts.js';
import { Rng, STREAM } from './rng.js';
import type { WorldModel } from './world.js';

export const KIND_VIEW = 0;
export const KIND_VIEW_LIKED = 1;
export const KIND_LIKE = 2;

/** One user's log: rows in time order of views, each liked view followed by its like row. */
export interface UserLog {
  user: number;
  length: number;
  /** Seconds since 2021-10-01 00:00 UTC. */
  time: Int32Array;
  post: Int32Array;
  kind: Uint8Array;
}

const FIRST_SEC = (PERIOD.startMs - DAY0_MS) / 1000;
const LAST_VIEW_SEC = (PERIOD.endMs - DAY0_MS) / 1000 - PARAMS.likeDelay[1];
/** Views stop early enough that their likes stay before midnight. */
const DAY_LAST_VIEW = 86_400 - PARAMS.likeDelay[1] - 1;
// When people scroll (06-23 h): fewer early in the morning, a little more in the evening.
export const HOUR_WEIGHTS = [0.75, 0.9, 0.95, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.05, 1.1, 1.1, 1.05, 0.9];

/** The number of views of a user over the period: the first draw of the user's feed stream. */
function drawViews(rng: Rng): number {
  return Math.max(12, Math.round((PARAMS.viewsPerUser * rng.gamma(PARAMS.viewsShape)) / PARAMS.viewsShape));
}

/** How active user u is: their views over the logged period (without generating the log). */
export function userViews(world: WorldModel, u: number): number {
  return drawViews(new Rng(world.spec.seed, STREAM.feed, u));
}

/**
 * Generates users' feed logs one at a time into reused buffers. Each user's randomness comes
 * from (seed, user index) alone, so any user's log can be regenerated without the others.
 */
export class FeedGenerator {
  private cap = 4096;
  private log: UserLog;
  private views = new Int32Array(4096);
  private readonly likeTime: Int32Array;
  private readonly touched: number[] = [];
  private readonly subBoost = new Float64Array(SUBTOPIC_COUNT);
  private readonly topicBase = new Float64Array(TOPIC_COUNT);

  constructor(private readonly world: WorldModel) {
    this.log = this.alloc(this.cap);
    this.likeTime = new Int32Array(world.posts.length);
  }

  private alloc(cap: number): UserLog {
    return {
      user: -1,
      length: 0,
      time: new Int32Array(cap),
      post: new Int32Array(cap),
      kind: new Uint8Array(cap),
    };
  }

  /** The log of user `u`; valid until the next call. */
  generate(u: number): UserLog {
    const w = this.world;
    const truth = w.truth;
    const rng = new Rng(w.spec.seed, STREAM.feed, u);
    const nViews = drawViews(rng);
    if (nViews * 2 > this.cap) {
      this.cap = nViews * 2;
      this.log = this.alloc(this.cap);
    }
    if (nViews > this.views.length) this.views = new Int32Array(nViews);
    const views = this.views.subarray(0, nViews);
    const exposure = w.exposure;
    exposure?.forUser(u);

    // View times come in sessions of a few minutes at random days and (active) hours.
    let k = 0;
    while (k < nViews) {
      const day = rng.int(DAYS);
      let sec = (FIRST_HOUR + rng.pick(HOUR_WEIGHTS)) * 3600 + rng.int(3600);
      const len = 1 + rng.int(24);
      for (let j = 0; j < len && k < nViews; j++) {
        const t = day * 86_400 + sec;
        if (sec > DAY_LAST_VIEW || t > LAST_VIEW_SEC) break;
        if (t >= FIRST_SEC) views[k++] = t;
        sec += 8 + Math.floor(-45 * Math.log(1 - rng.next()));
      }
    }
    views.sort();

    // The per-user parts of the logit, computed once per user.
    const T = TOPIC_COUNT;
    const ut = truth.userTopic;
    for (let t = 0; t < T; t++) this.topicBase[t] = ut[u * T + t]!;
    const ao = truth.userAge[u]! * SUBTOPIC_COUNT;
    for (let s = 0; s < SUBTOPIC_COUNT; s++) this.subBoost[s] = truth.ageSub[ao + s]! + truth.favourite(u, s);
    const { topic, subtopic, effect } = w.postCodes;
    const dayTopic = truth.dayTopic;
    const hourEff = truth.hour;
    const likeTime = this.likeTime;
    const { time, post, kind } = this.log;
    const [d0, d1] = PARAMS.likeDelay;
    const drop = PARAMS.likedDrop;

    let n = 0;
    for (let i = 0; i < nViews; i++) {
      const t = views[i]!;
      const p =
        i > 0 && rng.next() < PARAMS.repeatViewShare
          ? post[n - 1 - rng.int(n)]!
          : exposure
            ? exposure.draw(rng)
            : w.feedPosts.draw(rng);
      const day = (t / 86_400) | 0;
      const hour = ((t - day * 86_400) / 3600) | 0;
      const k2 = topic[p]!;
      let z =
        this.topicBase[k2]! +
        effect[p]! +
        this.subBoost[subtopic[p]!]! +
        dayTopic[day * T + k2]! +
        hourEff[hour]!;
      const lt = likeTime[p]!;
      if (lt > 0 && lt < t) z += drop;
      const liked = rng.next() * (1 + Math.exp(-z)) < 1;
      time[n] = t;
      post[n] = p;
      kind[n++] = liked ? KIND_VIEW_LIKED : KIND_VIEW;
      if (liked) {
        const tl = t + d0 + rng.int(d1 - d0 + 1);
        time[n] = tl;
        post[n] = p;
        kind[n++] = KIND_LIKE;
        if (lt === 0) {
          likeTime[p] = tl;
          this.touched.push(p);
        }
      }
    }
    for (const p of this.touched) likeTime[p] = 0;
    this.touched.length = 0;
    this.log.user = u;
    this.log.length = n;
    return this.log;
  }
}
