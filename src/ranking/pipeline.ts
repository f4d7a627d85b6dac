import { SEGMENTS } from '../features/segments.js';
import {
  featureNames,
  fillRow,
  fillUserContext,
  newUserContext,
  postLikeRate,
  type FeatureSet,
  type FeatureStore,
  type UserContext,
} from '../features/index.js';

/**
 * Two-stage ranking: a cheap retrieval score over every post, then the model over a few hundred
 * candidates. Retrieval keeps a quota per topic, so the model (which knows how a user's profile
 * and history weigh each topic) always chooses between topics; within a topic it orders posts by
 * their smoothed like rate, times the user's lift for the post's text cluster for the test model.
 */

export interface RankInput {
  /** User index in the store (not the id). */
  ui: number;
  tMs: number;
  limit: number;
}

/**
 * What retrieval orders posts by before the model: their smoothed like rate after a view (a
 * model of P(like | view)), or how often they were liked at all (a model of "liked within the
 * next days", which must see the posts people open: docs/exposure.md).
 */
export type Retrieval = 'like-rate' | 'likes';

/** The retrieval a model was trained for, from its card's target. */
export function retrievalFor(card: { target?: { kind?: string } }): Retrieval {
  return card.target?.kind === 'liked-within' ? 'likes' : 'like-rate';
}

export interface PipelineOptions {
  set: FeatureSet;
  /** Default 'like-rate'. */
  retrieval?: Retrieval;
  /**
   * How 'like-rate' retrieval scores a post: 'lift' (default) adds log-odds lifts to the log of
   * its smoothed like rate (its text cluster among the user's age band and, for the test model,
   * the user's own topic and cluster lifts); 'rate' multiplies the rate by the user's raw cluster
   * lift (the first version; docs/experiments/candidate-recall.md compares them).
   */
  retrievalScore?: 'lift' | 'rate';
  /** Keep an equal quota of candidates per topic (default true); false: the best overall. */
  topicQuota?: boolean;
  /** Candidates per request passed to the model; ignored when rankAll. */
  candidates: number;
  /** Score every post the user has not liked with the model (the reference for the two-stage mode). */
  rankAll: boolean;
}

export interface PreparedBatch {
  features: Float32Array;
  rows: number;
  width: number;
  /** Candidate post indexes of each request, in row order. */
  candidates: Int32Array[];
}

export class RankingPipeline {
  readonly width: number;
  private readonly ctx: UserContext;
  private readonly mark: Uint8Array;
  private readonly score: Float32Array;
  private readonly clusterLift: Float32Array;
  private readonly topicLift: Float32Array;
  private liftScores = false;
  private logRates: Float32Array | undefined;
  /** Post indexes of each topic (static), and a scratch list for the selection. */
  private readonly byTopic: Int32Array[];
  private readonly scratch: Int32Array;

  constructor(
    private readonly store: FeatureStore,
    readonly opts: PipelineOptions,
  ) {
    this.width = featureNames(opts.set).length;
    this.ctx = newUserContext(store);
    this.mark = new Uint8Array(store.dims.posts);
    this.score = new Float32Array(store.dims.posts);
    this.clusterLift = new Float32Array(store.dims.clusters);
    this.topicLift = new Float32Array(store.dims.topics);
    const lists: number[][] = Array.from({ length: store.dims.topics }, () => []);
    for (let p = 0; p < store.dims.posts; p++) lists[store.postTopic[p]!]!.push(p);
    this.byTopic = lists.filter((l) => l.length > 0).map((l) => Int32Array.from(l));
    this.scratch = new Int32Array(store.dims.posts);
  }

  /** Candidates for one request: post indexes the user had not liked before tMs. */
  candidatesFor(req: RankInput): Int32Array {
    const { store, ctx, mark, score } = this;
    fillUserContext(store, req.ui, req.tMs, ctx);
    for (const pi of ctx.liked) mark[pi] = 1;
    try {
      const posts = store.dims.posts;
      if (this.opts.rankAll) {
        const out = new Int32Array(posts - new Set(ctx.liked).size);
        let n = 0;
        for (let p = 0; p < posts; p++) if (!mark[p]) out[n++] = p;
        return out;
      }
      const D = store.dims.days + 1;
      const byLikes = this.opts.retrieval === 'likes';
      this.liftScores = !byLikes && (this.opts.retrievalScore ?? 'lift') === 'lift';
      if (this.liftScores) {
        this.fillLiftScores();
        return this.topPerTopic(Math.max(req.limit, this.opts.candidates));
      }
      this.fillClusterLift();
      for (let p = 0; p < posts; p++) {
        const base = byLikes
          ? store.postLikesCum[p * D + ctx.day]! + 1
          : postLikeRate(store, p, ctx.day, ctx.prior);
        score[p] = mark[p] ? -1 : base * this.clusterLift[store.postCluster[p]!]!;
      }
      return this.topPerTopic(Math.max(req.limit, this.opts.candidates));
    } finally {
      for (const pi of ctx.liked) mark[pi] = 0;
    }
  }

  /** Feature rows for all candidates of all requests, ready for one model run. */
  prepare(reqs: readonly RankInput[]): PreparedBatch {
    // The same bound topPerTopic works with: a quota for each topic that has posts.
    const topics = this.byTopic.length;
    const perRequest = this.opts.rankAll
      ? this.store.dims.posts
      : Math.ceil(Math.max(this.opts.candidates, ...reqs.map((r) => r.limit)) / topics) * topics;
    const features = new Float32Array(reqs.length * perRequest * this.width);
    const candidates: Int32Array[] = [];
    let off = 0;
    for (const r of reqs) {
      // candidatesFor leaves the user's context in this.ctx, which the rows below reuse.
      const cands = this.candidatesFor(r);
      candidates.push(cands);
      for (const pi of cands) {
        fillRow(this.store, this.ctx, pi, this.opts.set, features, off);
        off += this.width;
      }
    }
    const rows = off / this.width;
    return { features: features.subarray(0, off), rows, width: this.width, candidates };
  }

  /** Top `limit` post ids per request from the model's scores (ties broken by lower post index). */
  finish(batch: PreparedBatch, reqs: readonly RankInput[], scores: Float32Array): number[][] {
    let off = 0;
    return batch.candidates.map((cands, i) => {
      const top = topK(scores, off, cands, reqs[i]!.limit);
      off += cands.length;
      return top.map((pi) => this.store.postIds[pi]!);
    });
  }

  /**
   * score = log(smoothed like rate) + the cluster's log lift among the user's age band (+ the
   * user's own shrunk log lifts of the topic and cluster for the test model): the parts of the
   * features that retrieval can afford for every post, on the model's log-odds-like scale.
   */
  private fillLiftScores(): void {
    const { ctx, clusterLift, store, score, mark } = this;
    const { days, clusters, topics, posts } = store.dims;
    const D = days + 1;
    const day = ctx.day;
    const S = SEGMENTS;
    const age = ctx.seg[0]!;
    const gLikes = store.globalCum[D + day]!;
    const personal = this.opts.set === 'test' && ctx.likesBefore > 0;
    for (let c = 0; c < clusters; c++) {
      const cv = store.clusterViewsCum[c * D + day]!;
      const cLikes = store.clusterLikesCum[c * D + day]!;
      const rate = (cLikes + 50 * ctx.prior) / (cv + 50);
      const expected = cv * ctx.segShare[0]! * rate * ctx.segFactor[0]!;
      const others = store.clusterSegLikesCum[(c * S + age) * D + day]! - ctx.clusterLikesBeforeDay[c]!;
      let v = Math.log((others + 10) / (expected + 10));
      if (personal) {
        const share = gLikes > 0 ? cLikes / gLikes : 1 / clusters;
        v += Math.log((ctx.clusterLikes[c]! + 2) / (ctx.likesBefore * share + 2));
      }
      clusterLift[c] = v;
    }
    const topicLift = this.topicLift;
    for (let t = 0; t < topics; t++) {
      topicLift[t] = 0;
      if (!personal) continue;
      const share = gLikes > 0 ? store.topicLikesCum[t * D + day]! / gLikes : 1 / topics;
      topicLift[t] = Math.log((ctx.topicLikes[t]! + 2) / (ctx.likesBefore * share + 2));
    }
    const logRate = this.logRatesOf(day, ctx.prior);
    for (let p = 0; p < posts; p++) {
      score[p] = mark[p]
        ? -Infinity
        : logRate[p]! + clusterLift[store.postCluster[p]!]! + topicLift[store.postTopic[p]!]!;
    }
  }

  /**
   * log(smoothed like rate) of every post before `day`: the same for every request of the day,
   * so it is computed once per day and kept (posts × days floats per pipeline).
   */
  private logRatesOf(day: number, prior: number): Float32Array {
    const { store } = this;
    const posts = store.dims.posts;
    this.logRates ??= new Float32Array(posts * (store.dims.days + 1)).fill(NaN);
    const out = this.logRates.subarray(day * posts, (day + 1) * posts);
    if (Number.isNaN(out[0]!))
      for (let p = 0; p < posts; p++) out[p] = Math.log(postLikeRate(store, p, day, prior));
    return out;
  }

  private fillClusterLift(): void {
    const { ctx, clusterLift, store } = this;
    clusterLift.fill(1);
    if (this.opts.set !== 'test' || ctx.likesBefore === 0) return;
    // Lift = how much more often the user liked this cluster than its share of their likes would
    // be by chance, smoothed towards 1 so a single like does not dominate.
    const perCluster = 1 / store.dims.clusters;
    for (let c = 0; c < store.dims.clusters; c++) {
      clusterLift[c] = (ctx.clusterLikes[c]! + 2) / (ctx.likesBefore * perCluster + 2);
    }
  }

  private topPerTopic(total: number): Int32Array {
    const { score, byTopic, scratch } = this;
    if (this.opts.topicQuota === false) {
      let m = 0;
      for (let p = 0; p < score.length; p++) if (score[p]! > -Infinity && !this.mark[p]) scratch[m++] = p;
      const take = Math.min(total, m);
      selectTop(scratch, m, take, score);
      return scratch.slice(0, take);
    }
    const quota = Math.ceil(total / byTopic.length);
    const out = new Int32Array(quota * byTopic.length);
    let n = 0;
    for (const list of byTopic) {
      let m = 0;
      // Liked posts score -1 (rate) or -Infinity (lift): neither is ever a candidate.
      for (let i = 0; i < list.length; i++) {
        const v = score[list[i]!]!;
        if (v >= 0 || (v > -Infinity && this.liftScores)) scratch[m++] = list[i]!;
      }
      const take = Math.min(quota, m);
      // Only membership matters here (the model orders the candidates), so a selection suffices.
      selectTop(scratch, m, take, score);
      out.set(scratch.subarray(0, take), n);
      n += take;
    }
    return out.subarray(0, n);
  }
}

/**
 * Rearranges idx[0 .. n) so that its first k entries are the k highest scores (Hoare-style
 * quickselect, ties broken by lower index so results do not depend on the input order).
 */
export function selectTop(idx: Int32Array, n: number, k: number, score: Float32Array): void {
  const better = (a: number, b: number) => score[a]! > score[b]! || (score[a] === score[b] && a < b);
  let lo = 0;
  let hi = n - 1;
  while (lo < hi && k > lo && k <= hi) {
    const pivot = idx[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (better(idx[i]!, pivot)) i++;
      while (better(pivot, idx[j]!)) j--;
      if (i <= j) {
        const t = idx[i]!;
        idx[i++] = idx[j]!;
        idx[j--] = t;
      }
    }
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else break;
  }
}

/** Indexes (from cands) of the k best scores in scores[off .. off + cands.length). */
export function topK(scores: Float32Array, off: number, cands: Int32Array, k: number): number[] {
  const order = Array.from(cands.keys());
  order.sort((a, b) => scores[off + b]! - scores[off + a]! || cands[a]! - cands[b]!);
  return order.slice(0, k).map((j) => cands[j]!);
}

/** The cheap fallback and the "most popular" policy: most liked posts (before the day) not yet liked. */
export function mostLiked(
  store: FeatureStore,
  ui: number,
  tMs: number,
  limit: number,
  ctx?: UserContext,
): number[] {
  const c = fillUserContext(store, ui, tMs, ctx ?? newUserContext(store));
  const liked = new Set(c.liked);
  const D = store.dims.days + 1;
  const best: { p: number; likes: number }[] = [];
  for (let p = 0; p < store.dims.posts; p++) {
    if (liked.has(p)) continue;
    const likes = store.postLikesCum[p * D + c.day]!;
    if (best.length < limit || likes > best[best.length - 1]!.likes) {
      best.push({ p, likes });
      best.sort((a, b) => b.likes - a.likes || a.p - b.p);
      if (best.length > limit) best.pop();
    }
  }
  return best.map((b) => store.postIds[b.p]!);
}
