import { DAY_MS, dayOf, PROFILE, type FeatureStore } from './layout.js';
import { LIVE_LIKE } from './live.js';
import { SEGMENT_BASE, SEGMENT_DIMS, SEGMENTS } from './segments.js';

/**
 * The one implementation of feature rows, used to write the training matrix and by the service.
 * History features read only events strictly before the row's time: likes by their exact time,
 * view counts and post statistics by whole days before the row's day.
 */

const TOPIC_ONE_HOT = ['movie', 'covid', 'business', 'sport', 'politics', 'tech', 'entertainment'] as const;

export const CONTROL_FEATURES = [
  ...PROFILE,
  'topic',
  ...TOPIC_ONE_HOT.map((t) => `topic_${t}`),
  'post_views_before_log',
  'post_likes_before_log',
  'post_like_rate_before',
  'hour',
  'weekday',
  'day_index',
  // Interaction lifts (log, shrunk to 0 when sparse) of the post, its topic and its text cluster
  // among the user's segment in each dimension: public information (no personal history).
  ...SEGMENT_DIMS.map((d) => `post_lift_${d.name}`),
  ...SEGMENT_DIMS.map((d) => `topic_lift_${d.name}`),
  ...SEGMENT_DIMS.map((d) => `cluster_lift_${d.name}`),
  'cluster_like_rate',
];

export const TEST_FEATURES = [
  ...CONTROL_FEATURES,
  'text_cluster',
  'text_len_log',
  'user_views_before_log',
  'user_likes_before',
  'user_like_rate',
  'user_topic_likes',
  'user_topic_rate',
  'user_cluster_likes',
  'user_cluster_rate',
  'user_text_affinity',
  'user_topic_lift',
  'user_cluster_lift',
  'hours_since_like_log',
  'likes_last_day',
];

export type FeatureSet = 'control' | 'test';

export function featureNames(set: FeatureSet): readonly string[] {
  return set === 'control' ? CONTROL_FEATURES : TEST_FEATURES;
}

/** Smoothing strength (pseudo-views) for rates that start from the global prior. */
const PRIOR_VIEWS = 50;
const USER_PRIOR_VIEWS = 20;
const DEFAULT_LIKE_RATE = 0.1;
/** Pseudo-likes of the segment lifts: a lift moves away from 0 only with a few likes behind it. */
const POST_LIFT_LIKES = 5;
const GROUP_LIFT_LIKES = 10;
/** Pseudo-likes of the user's own topic and cluster lifts. */
const USER_LIFT_LIKES = 2;

/** Per-(user, time) aggregates computed once and shared by all candidate rows of one request. */
export interface UserContext {
  ui: number;
  tMs: number;
  /** Day index clamped to the log's days (for prefix sums) and unclamped (the trend feature). */
  day: number;
  dayIndex: number;
  hour: number;
  weekday: number;
  viewsBefore: number;
  likesBefore: number;
  topicLikes: Float32Array;
  clusterLikes: Float32Array;
  /**
   * The user's own likes before the day, by topic and cluster: the segment counts (which hold
   * whole days before the row's day) include them, and the segment lifts take them out, so that
   * they say what others in the segment like, not what this user liked (which is history, for
   * the test model only). Live likes are not in the segment counts and not here.
   */
  topicLikesBeforeDay: Float32Array;
  clusterLikesBeforeDay: Float32Array;
  /** Mean text vector of posts liked before tMs (unnormalised sum / count). */
  likedVec: Float32Array;
  likedVecNorm: number;
  /** Post indexes liked strictly before tMs (possibly with repeats). */
  liked: number[];
  /** Global like rate before the context's day. */
  prior: number;
  /** Per segment dimension: the user's segment index, its share of all views, its like rate / prior. */
  seg: Int32Array;
  segShare: Float32Array;
  segFactor: Float32Array;
  /**
   * Topic × dimension and cluster × dimension segment lifts of this context, computed at the
   * first row that needs them (NaN = not yet): 150 candidate rows share 7 topics and 48 clusters.
   */
  topicLifts: Float32Array;
  clusterLifts: Float32Array;
  /** Latest like before tMs (epoch s, -1 none) and likes in the 24 hours before tMs. */
  lastLikeSec: number;
  likesLastDay: number;
}

export function newUserContext(store: FeatureStore): UserContext {
  return {
    ui: -1,
    tMs: 0,
    day: 0,
    dayIndex: 0,
    hour: 0,
    weekday: 0,
    viewsBefore: 0,
    likesBefore: 0,
    topicLikes: new Float32Array(store.dims.topics),
    clusterLikes: new Float32Array(store.dims.clusters),
    topicLikesBeforeDay: new Float32Array(store.dims.topics),
    clusterLikesBeforeDay: new Float32Array(store.dims.clusters),
    likedVec: new Float32Array(store.dims.textDim),
    likedVecNorm: 0,
    liked: [],
    prior: DEFAULT_LIKE_RATE,
    seg: new Int32Array(SEGMENT_DIMS.length),
    segShare: new Float32Array(SEGMENT_DIMS.length),
    segFactor: new Float32Array(SEGMENT_DIMS.length),
    topicLifts: new Float32Array(store.dims.topics * SEGMENT_DIMS.length),
    clusterLifts: new Float32Array(store.dims.clusters * SEGMENT_DIMS.length),
    lastLikeSec: -1,
    likesLastDay: 0,
  };
}

/** Fills ctx for user index ui at tMs (reusing its arrays). */
export function fillUserContext(store: FeatureStore, ui: number, tMs: number, ctx: UserContext): UserContext {
  const { days, textDim } = store.dims;
  const day = dayOf(store, tMs);
  const date = new Date(tMs);
  ctx.ui = ui;
  ctx.tMs = tMs;
  ctx.day = day;
  ctx.dayIndex = Math.floor((tMs - store.meta.day0Ms) / DAY_MS);
  ctx.hour = date.getUTCHours() + date.getUTCMinutes() / 60;
  ctx.weekday = date.getUTCDay();
  ctx.viewsBefore = store.userViewsCum[ui * (days + 1) + day]!;
  ctx.prior = globalLikeRate(store, day);
  ctx.topicLikes.fill(0);
  ctx.clusterLikes.fill(0);
  ctx.topicLikesBeforeDay.fill(0);
  ctx.topicLifts.fill(NaN);
  ctx.clusterLifts.fill(NaN);
  ctx.clusterLikesBeforeDay.fill(0);
  ctx.likedVec.fill(0);
  ctx.liked.length = 0;
  ctx.lastLikeSec = -1;
  ctx.likesLastDay = 0;
  const end = store.likeOffsets[ui + 1]!;
  for (let k = store.likeOffsets[ui]!; k < end; k++) {
    // Likes are in time order, so the first like at or after tMs ends the history.
    if (store.likeAtSec[k]! * 1000 >= tMs) break;
    const pi = store.likePost[k]!;
    addLike(store, ctx, pi, store.likeAtSec[k]!);
    // Days count from day0 like the segment counts (dayOf); a like of a later day is not in them.
    if (Math.floor((store.likeAtSec[k]! * 1000 - store.meta.day0Ms) / DAY_MS) < day) {
      ctx.topicLikesBeforeDay[store.postTopic[pi]!]! += 1;
      ctx.clusterLikesBeforeDay[store.postCluster[pi]!]! += 1;
    }
  }
  // Rows logged after the snapshot (live.ts), by their exact time: a like seconds ago counts.
  for (let k = Atomics.load(store.liveHead, ui); k >= 0; k = store.liveNext[k]!) {
    if (store.liveAtSec[k]! * 1000 >= tMs) continue;
    if (store.liveKind[k] === LIVE_LIKE) addLike(store, ctx, store.livePost[k]!, store.liveAtSec[k]!);
    else ctx.viewsBefore += 1;
  }
  const D = days + 1;
  const gViews = store.globalCum[day]!;
  for (let j = 0; j < SEGMENT_DIMS.length; j++) {
    const s = SEGMENT_BASE[j]! + store.userSegment[ui * SEGMENT_DIMS.length + j]!;
    const sv = store.segViewsCum[s * D + day]!;
    ctx.seg[j] = s;
    ctx.segShare[j] = gViews > 0 ? sv / gViews : 0;
    ctx.segFactor[j] = sv > 0 && ctx.prior > 0 ? store.segLikesCum[s * D + day]! / sv / ctx.prior : 1;
  }
  ctx.likesBefore = ctx.liked.length;
  let norm = 0;
  for (let j = 0; j < textDim; j++) norm += ctx.likedVec[j]! * ctx.likedVec[j]!;
  ctx.likedVecNorm = Math.sqrt(norm);
  return ctx;
}

function addLike(store: FeatureStore, ctx: UserContext, pi: number, atSec: number): void {
  const textDim = store.dims.textDim;
  ctx.liked.push(pi);
  if (atSec > ctx.lastLikeSec) ctx.lastLikeSec = atSec;
  if (atSec * 1000 >= ctx.tMs - DAY_MS) ctx.likesLastDay += 1;
  ctx.topicLikes[store.postTopic[pi]!]! += 1;
  ctx.clusterLikes[store.postCluster[pi]!]! += 1;
  const base = pi * textDim;
  for (let j = 0; j < textDim; j++) ctx.likedVec[j]! += store.postVec[base + j]!;
}

/** Like rate of the whole log before `day`: the prior of smoothed rates (a fixed guess on day 0). */
export function globalLikeRate(store: FeatureStore, day: number): number {
  const views = store.globalCum[day]!;
  return views > 0 ? store.globalCum[store.dims.days + 1 + day]! / views : DEFAULT_LIKE_RATE;
}

/** Share of views before `day` that went to the given topic / cluster (uniform on day 0). */
function share(cum: Float32Array, store: FeatureStore, key: number, count: number, day: number): number {
  const views = store.globalCum[day]!;
  const v = cum[key * (store.dims.days + 1) + day]!;
  return views > 0 ? Math.max(v / views, 1e-6) : 1 / count;
}

/** Smoothed post like rate before the context's day. */
export function postLikeRate(store: FeatureStore, pi: number, day: number, prior: number): number {
  const i = pi * (store.dims.days + 1) + day;
  const views = store.postViewsCum[i]!;
  const likes = store.postLikesCum[i]!;
  return (likes + PRIOR_VIEWS * prior) / (views + PRIOR_VIEWS);
}

/** Writes the feature row of post pi for ctx into out[off .. off + featureNames(set).length). */
export function fillRow(
  store: FeatureStore,
  ctx: UserContext,
  pi: number,
  set: FeatureSet,
  out: Float32Array,
  off: number,
): void {
  const { days, textDim } = store.dims;
  const meta = store.meta;
  let o = off;
  const prof = ctx.ui * PROFILE.length;
  for (let j = 0; j < PROFILE.length; j++) out[o++] = store.userProfile[prof + j]!;
  const topic = store.postTopic[pi]!;
  out[o++] = topic;
  for (let j = 0; j < TOPIC_ONE_HOT.length; j++) out[o++] = meta.topics[topic] === TOPIC_ONE_HOT[j] ? 1 : 0;
  const di = pi * (days + 1) + ctx.day;
  const views = store.postViewsCum[di]!;
  const likes = store.postLikesCum[di]!;
  out[o++] = Math.log1p(views);
  out[o++] = Math.log1p(likes);
  out[o++] = (likes + PRIOR_VIEWS * ctx.prior) / (views + PRIOR_VIEWS);
  out[o++] = ctx.hour;
  out[o++] = ctx.weekday;
  out[o++] = ctx.dayIndex;
  const S = SEGMENTS;
  const day = ctx.day;
  const D = days + 1;
  const postRate = (likes + PRIOR_VIEWS * ctx.prior) / (views + PRIOR_VIEWS);
  for (let j = 0; j < SEGMENT_DIMS.length; j++)
    out[o++] = segmentLift(
      store.postSegLikesCum[(pi * S + ctx.seg[j]!) * D + day]!,
      views * ctx.segShare[j]! * postRate * ctx.segFactor[j]!,
      POST_LIFT_LIKES,
    );
  const dims = SEGMENT_DIMS.length;
  if (Number.isNaN(ctx.topicLifts[topic * dims]!)) {
    const tv = store.topicViewsCum[topic * D + day]!;
    const topicRate = (store.topicLikesCum[topic * D + day]! + PRIOR_VIEWS * ctx.prior) / (tv + PRIOR_VIEWS);
    for (let j = 0; j < dims; j++)
      ctx.topicLifts[topic * dims + j] = segmentLift(
        store.topicSegLikesCum[(topic * S + ctx.seg[j]!) * D + day]! - ctx.topicLikesBeforeDay[topic]!,
        tv * ctx.segShare[j]! * topicRate * ctx.segFactor[j]!,
        GROUP_LIFT_LIKES,
      );
  }
  for (let j = 0; j < dims; j++) out[o++] = ctx.topicLifts[topic * dims + j]!;
  const cluster = store.postCluster[pi]!;
  const cv = store.clusterViewsCum[cluster * D + day]!;
  const clusterLikes = store.clusterLikesCum[cluster * D + day]!;
  const clusterRate = (clusterLikes + PRIOR_VIEWS * ctx.prior) / (cv + PRIOR_VIEWS);
  if (Number.isNaN(ctx.clusterLifts[cluster * dims]!)) {
    for (let j = 0; j < dims; j++)
      ctx.clusterLifts[cluster * dims + j] = segmentLift(
        store.clusterSegLikesCum[(cluster * S + ctx.seg[j]!) * D + day]! -
          ctx.clusterLikesBeforeDay[cluster]!,
        cv * ctx.segShare[j]! * clusterRate * ctx.segFactor[j]!,
        GROUP_LIFT_LIKES,
      );
  }
  for (let j = 0; j < dims; j++) out[o++] = ctx.clusterLifts[cluster * dims + j]!;
  out[o++] = clusterRate;
  if (set === 'control') return;

  out[o++] = cluster;
  out[o++] = Math.log1p(store.postTextLen[pi]!);
  const uv = ctx.viewsBefore;
  out[o++] = Math.log1p(uv);
  out[o++] = ctx.likesBefore;
  const prior = ctx.prior;
  out[o++] = (ctx.likesBefore + USER_PRIOR_VIEWS * prior) / (uv + USER_PRIOR_VIEWS);
  // Feed posts are nearly random, so views of a topic ≈ all views × the topic's share of posts.
  const tl = ctx.topicLikes[topic]!;
  out[o++] = tl;
  out[o++] =
    (tl + USER_PRIOR_VIEWS * prior) /
    (uv * share(store.topicViewsCum, store, topic, store.dims.topics, ctx.day) + USER_PRIOR_VIEWS);
  const cl = ctx.clusterLikes[cluster]!;
  out[o++] = cl;
  out[o++] =
    (cl + USER_PRIOR_VIEWS * prior) /
    (uv * share(store.clusterViewsCum, store, cluster, store.dims.clusters, ctx.day) + USER_PRIOR_VIEWS);
  let dot = 0;
  const base = pi * textDim;
  for (let j = 0; j < textDim; j++) dot += ctx.likedVec[j]! * store.postVec[base + j]!;
  out[o++] = ctx.likedVecNorm > 0 ? dot / ctx.likedVecNorm : 0;
  // The user's own lifts: likes in the topic / cluster against the share of all likes it gets.
  const gLikes = store.globalCum[D + day]!;
  const topicShare = gLikes > 0 ? store.topicLikesCum[topic * D + day]! / gLikes : 1 / store.dims.topics;
  out[o++] = Math.log((tl + USER_LIFT_LIKES) / (ctx.likesBefore * topicShare + USER_LIFT_LIKES));
  const clusterShare = gLikes > 0 ? clusterLikes / gLikes : 1 / store.dims.clusters;
  out[o++] = Math.log((cl + USER_LIFT_LIKES) / (ctx.likesBefore * clusterShare + USER_LIFT_LIKES));
  out[o++] = ctx.lastLikeSec < 0 ? -1 : Math.log1p(Math.max(0, ctx.tMs / 1000 - ctx.lastLikeSec) / 3600);
  out[o++] = ctx.likesLastDay;
}

/**
 * log((observed + a) / (expected + a)): the observed likes of a (post | topic | cluster, segment)
 * pair against what the pair's overall rate and the segment's own rate predict, shrunk to 0
 * (no lift) by `a` pseudo-likes when counts are small.
 */
function segmentLift(observed: number, expected: number, a: number): number {
  return Math.log((observed + a) / (expected + a));
}
