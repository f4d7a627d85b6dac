import { SEGMENT_DIMS, SEGMENTS } from './segments.js';

/**
 * The shared-memory layout of the feature store: every array the ranking code reads, by name.
 * The main thread loads the store once into SharedArrayBuffers; workers get the same buffers
 * through workerData and build the same typed views, so nothing is copied per worker.
 */

export interface StoreDims {
  users: number;
  posts: number;
  /** Days of the log, counted from FeatureMeta.day0Ms; arrays by day have days + 1 prefix sums. */
  days: number;
  likes: number;
  topics: number;
  clusters: number;
  textDim: number;
  maxUserId: number;
  maxPostId: number;
  /** Capacity of the live event pool (views and likes logged after the snapshot); 0 = none. */
  liveEvents: number;
}

/** Global figures and encodings the feature code needs besides the arrays (JSON-serialisable). */
export interface FeatureMeta {
  version: number;
  day0Ms: number;
  topics: string[];
  countries: string[];
}

type Kind = 'i32' | 'u16' | 'u8' | 'f32';
const CTOR = { i32: Int32Array, u16: Uint16Array, u8: Uint8Array, f32: Float32Array } as const;
type ArrayOf<K extends Kind> = InstanceType<(typeof CTOR)[K]>;

/** Field name → element kind and length. Profile columns are in PROFILE order. */
export const FIELDS = {
  userIds: { kind: 'i32', len: (d: StoreDims) => d.users },
  userIndexById: { kind: 'i32', len: (d: StoreDims) => d.maxUserId + 1 },
  userProfile: { kind: 'f32', len: (d: StoreDims) => d.users * PROFILE.length },
  /** Prefix sums: views of user u before day k = userViewsCum[u * (days + 1) + k]. */
  userViewsCum: { kind: 'i32', len: (d: StoreDims) => d.users * (d.days + 1) },
  /** CSR of likes in time order: user u owns [likeOffsets[u], likeOffsets[u + 1]). */
  likeOffsets: { kind: 'i32', len: (d: StoreDims) => d.users + 1 },
  likePost: { kind: 'i32', len: (d: StoreDims) => d.likes },
  likeAtSec: { kind: 'i32', len: (d: StoreDims) => d.likes },
  postIds: { kind: 'i32', len: (d: StoreDims) => d.posts },
  postIndexById: { kind: 'i32', len: (d: StoreDims) => d.maxPostId + 1 },
  postTopic: { kind: 'u8', len: (d: StoreDims) => d.posts },
  postCluster: { kind: 'u16', len: (d: StoreDims) => d.posts },
  postTextLen: { kind: 'f32', len: (d: StoreDims) => d.posts },
  postVec: { kind: 'f32', len: (d: StoreDims) => d.posts * d.textDim },
  postViewsCum: { kind: 'i32', len: (d: StoreDims) => d.posts * (d.days + 1) },
  postLikesCum: { kind: 'i32', len: (d: StoreDims) => d.posts * (d.days + 1) },
  /**
   * Totals derived from the post arrays at load time, also as prefix sums by day, so that priors
   * and shares at a row's time use only days before it: [views, likes] × (days + 1).
   */
  globalCum: { kind: 'f32', len: (d: StoreDims) => 2 * (d.days + 1) },
  topicViewsCum: { kind: 'f32', len: (d: StoreDims) => d.topics * (d.days + 1) },
  clusterViewsCum: { kind: 'f32', len: (d: StoreDims) => d.clusters * (d.days + 1) },
  /** Likes by topic / cluster before each day (prefix sums), for like shares and rates. */
  topicLikesCum: { kind: 'f32', len: (d: StoreDims) => d.topics * (d.days + 1) },
  clusterLikesCum: { kind: 'f32', len: (d: StoreDims) => d.clusters * (d.days + 1) },
  /**
   * Audience segments (src/features/segments.ts): each user's segment in every dimension, and
   * views and likes by segment, and likes by (post | topic | cluster) × segment, as prefix sums
   * by day, derived from the like log at load time. Views of a post by segment are not stored:
   * the feed shows posts at random, so they are the post's views × the segment's view share.
   */
  userSegment: { kind: 'u8', len: (d: StoreDims) => d.users * SEGMENT_DIMS.length },
  segViewsCum: { kind: 'f32', len: (d: StoreDims) => SEGMENTS * (d.days + 1) },
  segLikesCum: { kind: 'f32', len: (d: StoreDims) => SEGMENTS * (d.days + 1) },
  postSegLikesCum: { kind: 'i32', len: (d: StoreDims) => d.posts * SEGMENTS * (d.days + 1) },
  topicSegLikesCum: { kind: 'f32', len: (d: StoreDims) => d.topics * SEGMENTS * (d.days + 1) },
  clusterSegLikesCum: { kind: 'f32', len: (d: StoreDims) => d.clusters * SEGMENTS * (d.days + 1) },
  /**
   * Live events: feed rows logged after the snapshot, appended by the main thread while the
   * workers read (src/features/live.ts). One pool of events; each user's events form a chain,
   * newest first: liveHead[u] is the newest (-1 none), liveNext[e] the one before it. A new
   * event is written completely, then published by an Atomics.store of the user's head, so a
   * reader that sees the head sees the whole event; published events never change.
   */
  liveHead: { kind: 'i32', len: (d: StoreDims) => d.users },
  liveNext: { kind: 'i32', len: (d: StoreDims) => d.liveEvents },
  /** Post index of the event (-1 for a view of a post the store does not know). */
  livePost: { kind: 'i32', len: (d: StoreDims) => d.liveEvents },
  liveAtSec: { kind: 'i32', len: (d: StoreDims) => d.liveEvents },
  /** LIVE_VIEW or LIVE_LIKE. */
  liveKind: { kind: 'u8', len: (d: StoreDims) => d.liveEvents },
  /** [events used, events dropped because the pool was full]; written with Atomics. */
  liveCounters: { kind: 'i32', len: () => 2 },
} as const satisfies Record<string, { kind: Kind; len: (d: StoreDims) => number }>;

export type FieldName = keyof typeof FIELDS;

export const PROFILE = ['gender', 'age', 'country', 'city_rank', 'exp_group', 'os', 'source'] as const;

export type FeatureArrays = { [K in FieldName]: ArrayOf<(typeof FIELDS)[K]['kind']> };

export interface FeatureStore extends FeatureArrays {
  dims: StoreDims;
  meta: FeatureMeta;
}

/** What crosses the thread boundary: the dims, meta and one SharedArrayBuffer per field. */
export interface SharedStore {
  dims: StoreDims;
  meta: FeatureMeta;
  buffers: Record<FieldName, SharedArrayBuffer>;
}

/** Allocates a zeroed store on SharedArrayBuffers (index lookups filled with -1). */
export function allocateStore(
  dims: StoreDims,
  meta: FeatureMeta,
): { store: FeatureStore; shared: SharedStore } {
  const buffers = {} as Record<FieldName, SharedArrayBuffer>;
  for (const name of Object.keys(FIELDS) as FieldName[]) {
    const f = FIELDS[name];
    buffers[name] = new SharedArrayBuffer(Math.max(1, f.len(dims)) * CTOR[f.kind].BYTES_PER_ELEMENT);
  }
  const shared: SharedStore = { dims, meta, buffers };
  const store = attachStore(shared);
  store.userIndexById.fill(-1);
  store.postIndexById.fill(-1);
  store.liveHead.fill(-1);
  return { store, shared };
}

/** Typed views over shared buffers: used by workers (and by the main thread after allocate). */
export function attachStore(shared: SharedStore): FeatureStore {
  const views = {} as Record<FieldName, unknown>;
  for (const name of Object.keys(FIELDS) as FieldName[]) {
    const f = FIELDS[name];
    views[name] = new CTOR[f.kind](shared.buffers[name] as unknown as ArrayBuffer, 0, f.len(shared.dims));
  }
  return { ...(views as FeatureArrays), dims: shared.dims, meta: shared.meta };
}

/** Bytes held by the store's buffers (reported at start-up and in benchmarks). */
export function storeBytes(shared: SharedStore): number {
  return Object.values(shared.buffers).reduce((s, b) => s + b.byteLength, 0);
}

export const DAY_MS = 86_400_000;

/** Day index of tMs counted from day0, clamped to [0, days]: features use only whole days before it. */
export function dayOf(store: { dims: StoreDims; meta: FeatureMeta }, tMs: number): number {
  const d = Math.floor((tMs - store.meta.day0Ms) / DAY_MS);
  return d < 0 ? 0 : d > store.dims.days ? store.dims.days : d;
}
