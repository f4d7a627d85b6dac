import { SCALES, type WorldSpec } from './constants.js';
import { EXPOSURES, TasteExposure } from './exposure.js';
import { generatePosts, type PostCodes, type WorldPost } from './posts.js';
import { AliasTable } from './rng.js';
import { Truth } from './truth.js';
import { generateUsers, type UserCodes, type WorldUser } from './users.js';
import { ValidationError } from '../errors/index.js';

export interface World {
  spec: WorldSpec;
  users: WorldUser[];
  posts: WorldPost[];
  userIndex(userId: number): number;
  postIndex(postId: number): number;
  /** True probability that user ui likes post pi if shown at tMs; likedBefore = the user liked this post before tMs. */
  likeProbability(ui: number, pi: number, tMs: number, likedBefore: boolean): number;
  /** P for every post (index order) at tMs, ignoring the liked-before drop; fast (used by the checker's oracle). */
  scoreAllPosts(ui: number, tMs: number, out: Float64Array): void;
}

function binarySearch(ids: Int32Array, id: number): number {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = ids[mid]!;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The world with its internals, for the generator, the calibration statistics and tests. */
export class WorldModel implements World {
  readonly users: WorldUser[];
  readonly posts: WorldPost[];
  readonly userCodes: UserCodes;
  readonly postCodes: PostCodes;
  readonly truth: Truth;
  readonly userIds: Int32Array;
  readonly postIds: Int32Array;
  /** Draws the (nearly random) post a feed shows. */
  readonly feedPosts: AliasTable;
  /** What users open in a taste world; null for the random feed. */
  readonly exposure: TasteExposure | null;

  constructor(readonly spec: WorldSpec) {
    const u = generateUsers(spec);
    const p = generatePosts(spec);
    this.users = u.users;
    this.posts = p.posts;
    this.userCodes = u.codes;
    this.postCodes = p.codes;
    this.truth = new Truth(spec, u.codes, p.codes);
    this.userIds = Int32Array.from(this.users, (x) => x.userId);
    this.postIds = Int32Array.from(this.posts, (x) => x.postId);
    this.feedPosts = new AliasTable(p.codes.viewWeight);
    this.exposure = spec.exposure === 'taste' ? new TasteExposure(this) : null;
  }

  userIndex(userId: number): number {
    return binarySearch(this.userIds, userId);
  }

  postIndex(postId: number): number {
    return binarySearch(this.postIds, postId);
  }

  likeProbability(ui: number, pi: number, tMs: number, likedBefore: boolean): number {
    return this.truth.probability(ui, pi, tMs, likedBefore);
  }

  scoreAllPosts(ui: number, tMs: number, out: Float64Array): void {
    this.truth.scoreAll(ui, tMs, out, 'truth');
  }
}

export function validateSpec(spec: WorldSpec): void {
  if (!SCALES.includes(spec.scale))
    throw new ValidationError(`unknown scale ${JSON.stringify(spec.scale)} (tiny, demo or full)`);
  if (!Number.isSafeInteger(spec.seed) || spec.seed < 0)
    throw new ValidationError(`seed must be a non-negative integer, got ${spec.seed}`);
  if (spec.exposure !== undefined && !EXPOSURES.includes(spec.exposure))
    throw new ValidationError(`unknown exposure ${JSON.stringify(spec.exposure)} (random or taste)`);
}

/** The spec with only its own fields; the random feed (the default) is left implicit. */
export function normalSpec(spec: WorldSpec): WorldSpec {
  return spec.exposure === 'taste'
    ? { seed: spec.seed, scale: spec.scale, exposure: 'taste' }
    : { seed: spec.seed, scale: spec.scale };
}

/** Builds the world of a seed and scale: pure, deterministic, no feed log (that is generated on demand). */
export function createWorld(spec: WorldSpec): World {
  return createWorldModel(spec);
}

export function createWorldModel(spec: WorldSpec): WorldModel {
  validateSpec(spec);
  return new WorldModel(normalSpec(spec));
}
