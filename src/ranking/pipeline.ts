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

export interface PipelineOptions {
  set: FeatureSet;
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

  constructor(
    private readonly store: FeatureStore,
    readonly opts: PipelineOptions,
  ) {
    this.width = featureNames(opts.set).length;
    this.ctx = newUserContext(store);
    this.mark = new Uint8Array(store.dims.posts);
    this.score = new Float32Array(store.dims.posts);
    this.clusterLift = new Float32Array(store.dims.clusters);
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
      this.fillClusterLift();
      for (let p = 0; p < posts; p++) {
        score[p] = mark[p]
          ? -1
          : postLikeRate(store, p, ctx.day, ctx.prior) * this.clusterLift[store.postCluster[p]!]!;
      }
      return this.topPerTopic(Math.max(req.limit, this.opts.candidates));
    } finally {
      for (const pi of ctx.liked) mark[pi] = 0;
    }
  }

  /** Feature rows for all candidates of all requests, ready for one model run. */
  prepare(reqs: readonly RankInput[]): PreparedBatch {
    const perRequest = this.opts.rankAll
      ? this.store.dims.posts
      : Math.ceil(Math.max(this.opts.candidates, ...reqs.map((r) => r.limit)) / this.store.dims.topics) *
        this.store.dims.topics;
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
    const { store, score } = this;
    const topics = store.dims.topics;
    const quota = Math.ceil(total / topics);
    const byTopic: number[][] = Array.from({ length: topics }, () => []);
    for (let p = 0; p < store.dims.posts; p++) if (score[p]! >= 0) byTopic[store.postTopic[p]!]!.push(p);
    const out: number[] = [];
    for (const list of byTopic) {
      list.sort((a, b) => score[b]! - score[a]! || a - b);
      for (let i = 0; i < Math.min(quota, list.length); i++) out.push(list[i]!);
    }
    return Int32Array.from(out);
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
