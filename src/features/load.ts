import type { Database, DbSession } from '../db/index.js';
import { MissingDataError } from '../errors/index.js';
import { FEATURE_VERSION } from './build.js';
import { csvRows } from './csv-numbers.js';
import { SEGMENT_BASE, SEGMENT_DIMS, SEGMENTS } from './segments.js';
import {
  allocateStore,
  DAY_MS,
  PROFILE,
  type FeatureMeta,
  type FeatureStore,
  type SharedStore,
} from './layout.js';

/**
 * Loads the precomputed feature tables into a SharedArrayBuffer store. Reads go through
 * COPY … TO (CSV) because it is several times faster than row objects for millions of numbers.
 */
export interface LoadedStore {
  store: FeatureStore;
  shared: SharedStore;
  /**
   * The last feed_changes row the snapshot includes: rows after it are logged later and belong
   * in the store's live part (src/live follows them).
   */
  changesSeq: number;
}

export interface LoadStoreOptions {
  /** Capacity of the live event pool (0: a read-only snapshot, as offline jobs use). */
  liveEvents?: number;
}

export async function loadFeatureStore(db: Database, opts: LoadStoreOptions = {}): Promise<LoadedStore> {
  // One snapshot for the sizes and the rows: a `feedrec features` committing in between must not
  // leave arrays sized for one build and filled from another.
  return db.transaction(async (tx) => {
    await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    return loadFrom(tx, opts.liveEvents ?? 0);
  });
}

async function loadFrom(db: DbSession, liveEvents: number): Promise<LoadedStore> {
  const metaRows = await db.query<{ key: string; value: unknown }>(`select key, value from feature_meta`);
  const metaValue = metaRows.find((r) => r.key === 'meta')?.value as FeatureMeta | undefined;
  const dimsValue = metaRows.find((r) => r.key === 'dims')?.value as
    { days: number; clusters: number; textDim: number } | undefined;
  if (!metaValue || !dimsValue)
    throw new MissingDataError('feature tables are empty: run `feedrec features` first');
  if (metaValue.version !== FEATURE_VERSION)
    throw new MissingDataError(
      `feature tables have version ${metaValue.version}, the code expects ${FEATURE_VERSION}: run \`feedrec features\``,
    );
  const counts = (
    await db.query<{ users: string; max_user: number; likes: string; posts: string; max_post: number }>(
      `select (select count(*) from user_features) users, (select coalesce(max(user_id), 0) from user_features) max_user,
              (select coalesce(sum(cardinality(liked_post_ids)), 0) from user_features) likes,
              (select count(*) from post_features) posts, (select coalesce(max(post_id), 0) from post_features) max_post`,
    )
  )[0]!;
  const dims = {
    users: Number(counts.users),
    posts: Number(counts.posts),
    days: dimsValue.days,
    likes: Number(counts.likes),
    topics: metaValue.topics.length,
    clusters: dimsValue.clusters,
    textDim: dimsValue.textDim,
    maxUserId: counts.max_user,
    maxPostId: counts.max_post,
    liveEvents,
  };
  // Feature tables built before live following existed include every row logged until then.
  const changesSeq = (metaRows.find((r) => r.key === 'live')?.value as { changesSeq?: number } | undefined)
    ?.changesSeq;
  const { store, shared } = allocateStore(dims, metaValue);
  const D = dims.days + 1;

  let pi = 0;
  for await (const f of csvRows(
    db.copyOut(
      `select post_id, topic_code, text_cluster, text_len, text_vec, views_by_day, likes_by_day
       from post_features order by post_id`,
    ),
  )) {
    const id = f[0] as number;
    store.postIds[pi] = id;
    store.postIndexById[id] = pi;
    store.postTopic[pi] = f[1] as number;
    store.postCluster[pi] = f[2] as number;
    store.postTextLen[pi] = f[3] as number;
    store.postVec.set(f[4] as number[], pi * dims.textDim);
    prefixSums(f[5] as number[], store.postViewsCum, pi * D);
    prefixSums(f[6] as number[], store.postLikesCum, pi * D);
    pi++;
  }

  let ui = 0;
  let k = 0;
  for await (const f of csvRows(
    db.copyOut(
      `select user_id, ${PROFILE.map((c) => COLUMN[c]).join(', ')}, views_by_day, liked_post_ids, liked_at
       from user_features order by user_id`,
    ),
  )) {
    const id = f[0] as number;
    store.userIds[ui] = id;
    store.userIndexById[id] = ui;
    for (let j = 0; j < PROFILE.length; j++) store.userProfile[ui * PROFILE.length + j] = f[1 + j] as number;
    prefixSums(f[1 + PROFILE.length] as number[], store.userViewsCum, ui * D);
    const posts = f[2 + PROFILE.length] as number[];
    const at = f[3 + PROFILE.length] as number[];
    store.likeOffsets[ui] = k;
    for (let j = 0; j < posts.length; j++) {
      const p = store.postIndexById[posts[j]!] ?? -1;
      // A like of a post that is not in post_text_df cannot be recommended or described: skip it.
      if (p < 0) continue;
      store.likePost[k] = p;
      store.likeAtSec[k] = at[j]!;
      k++;
    }
    ui++;
  }
  store.likeOffsets[ui] = k;
  if (pi !== dims.posts || ui !== dims.users)
    throw new MissingDataError(
      `feature tables changed while loading (${pi}/${dims.posts} posts, ${ui}/${dims.users} users): start again`,
    );
  deriveTotals(store);
  return { store, shared, changesSeq: changesSeq ?? 0 };
}

const COLUMN: Record<(typeof PROFILE)[number], string> = {
  gender: 'gender',
  age: 'age',
  country: 'country_code',
  city_rank: 'city_rank',
  exp_group: 'exp_group',
  os: 'os_code',
  source: 'source_code',
};

/** out[off + d] = sum of daily[0 .. d): counts strictly before day d. */
function prefixSums(daily: readonly number[], out: Int32Array, off: number): void {
  let s = 0;
  out[off] = 0;
  for (let d = 0; d < daily.length; d++) {
    s += daily[d]!;
    out[off + d + 1] = s;
  }
}

/**
 * Global, per-topic and per-cluster view/like prefix sums, summed from the post arrays, and the
 * segment aggregates (segments.ts) from the users' profiles, daily views and likes.
 */
export function deriveTotals(store: FeatureStore): void {
  const { posts, days } = store.dims;
  const D = days + 1;
  store.globalCum.fill(0);
  store.topicViewsCum.fill(0);
  store.clusterViewsCum.fill(0);
  store.topicLikesCum.fill(0);
  store.clusterLikesCum.fill(0);
  for (let p = 0; p < posts; p++) {
    const t = store.postTopic[p]! * D;
    const c = store.postCluster[p]! * D;
    for (let d = 0; d < D; d++) {
      const v = store.postViewsCum[p * D + d]!;
      const l = store.postLikesCum[p * D + d]!;
      store.globalCum[d]! += v;
      store.globalCum[D + d]! += l;
      store.topicViewsCum[t + d]! += v;
      store.clusterViewsCum[c + d]! += v;
      store.topicLikesCum[t + d]! += l;
      store.clusterLikesCum[c + d]! += l;
    }
  }
  deriveSegments(store);
}

/** Day index of a like (0 … days - 1), or -1 outside the log's days. */
function likeDay(store: FeatureStore, atSec: number): number {
  const d = Math.floor((atSec * 1000 - store.meta.day0Ms) / DAY_MS);
  return d >= 0 && d < store.dims.days ? d : -1;
}

/** Turns per-day counts at index day + 1 into prefix sums (index k = before day k), row by row. */
function cumulate(a: Int32Array | Float32Array, rows: number, D: number): void {
  for (let r = 0; r < rows; r++) {
    const at = r * D;
    for (let d = 1; d < D; d++) a[at + d]! += a[at + d - 1]!;
  }
}

function deriveSegments(store: FeatureStore): void {
  const { posts, days, users, topics, clusters } = store.dims;
  const D = days + 1;
  const S = SEGMENTS;
  const dims = SEGMENT_DIMS.length;
  store.segViewsCum.fill(0);
  store.segLikesCum.fill(0);
  store.postSegLikesCum.fill(0);
  store.topicSegLikesCum.fill(0);
  store.clusterSegLikesCum.fill(0);
  const seg = new Int32Array(dims);
  for (let u = 0; u < users; u++) {
    for (let j = 0; j < dims; j++) {
      const v = SEGMENT_DIMS[j]!.of(store.userProfile, u * PROFILE.length);
      store.userSegment[u * dims + j] = v;
      seg[j] = SEGMENT_BASE[j]! + v;
    }
    // Views are already prefix sums by day.
    for (let j = 0; j < dims; j++) {
      const at = seg[j]! * D;
      for (let d = 0; d < D; d++) store.segViewsCum[at + d]! += store.userViewsCum[u * D + d]!;
    }
    for (let k = store.likeOffsets[u]!; k < store.likeOffsets[u + 1]!; k++) {
      const day = likeDay(store, store.likeAtSec[k]!);
      if (day < 0) continue;
      const p = store.likePost[k]!;
      const t = store.postTopic[p]!;
      const c = store.postCluster[p]!;
      for (let j = 0; j < dims; j++) {
        const s = seg[j]!;
        store.segLikesCum[s * D + day + 1]! += 1;
        store.postSegLikesCum[(p * S + s) * D + day + 1]! += 1;
        store.topicSegLikesCum[(t * S + s) * D + day + 1]! += 1;
        store.clusterSegLikesCum[(c * S + s) * D + day + 1]! += 1;
      }
    }
  }
  cumulate(store.segLikesCum, S, D);
  cumulate(store.postSegLikesCum, posts * S, D);
  cumulate(store.topicSegLikesCum, topics * S, D);
  cumulate(store.clusterSegLikesCum, clusters * S, D);
}
