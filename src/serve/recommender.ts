import { UnknownUserError } from '../errors/index.js';
import type { PostInfo, RankRequest, RankResult, Recommender } from '../http/index.js';
import { mostLiked } from '../ranking/pipeline.js';
import { closeGeneration, type Generation } from './generation.js';

/**
 * The real Recommender: the shared feature store on this thread, ranking in the worker pool of
 * the current generation. A request reads `current` once and uses that generation's store (user
 * indexes differ between snapshots) and pool for everything, so a swap never mixes two.
 */
export class PoolRecommender implements Recommender {
  private ready = true;
  private gen: Generation;

  constructor(gen: Generation) {
    this.gen = gen;
  }

  get current(): Generation {
    return this.gen;
  }

  /**
   * Makes `next` serve every request from now on and returns the previous generation. Requests
   * already handed to the previous pool finish there; closing it is the caller's job.
   */
  swap(next: Generation): Generation {
    const prev = this.gen;
    this.gen = next;
    return prev;
  }

  hasUser(userId: number): boolean {
    return indexOf(this.gen, userId) >= 0;
  }

  async rank(req: RankRequest): Promise<RankResult> {
    const g = this.gen;
    const ui = indexOf(g, req.userId);
    // hasUser was asked of the generation before a swap; the user set is fixed, but a snapshot
    // without this user must say so rather than rank somebody else's index.
    if (ui < 0) throw new UnknownUserError(req.userId);
    return g.pool.rank(req.group, { ui, tMs: req.timeMs, limit: req.limit }, req.deadline);
  }

  fallback(req: RankRequest): RankResult {
    const g = this.gen;
    const ui = indexOf(g, req.userId);
    if (ui < 0) throw new UnknownUserError(req.userId);
    return { postIds: mostLiked(g.store, ui, req.timeMs, req.limit), modelVersion: 'fallback-popular' };
  }

  admits(): boolean {
    return this.gen.pool.admits();
  }

  post(postId: number): PostInfo | undefined {
    return this.gen.catalog.get(postId);
  }

  isReady(): boolean {
    return this.ready;
  }

  async close(): Promise<void> {
    this.ready = false;
    await closeGeneration(this.gen);
  }
}

function indexOf(g: Generation, userId: number): number {
  return userId <= g.store.dims.maxUserId ? (g.store.userIndexById[userId] ?? -1) : -1;
}
