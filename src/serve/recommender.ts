import type { FeatureStore } from '../features/index.js';
import type { PostInfo, RankRequest, RankResult, Recommender } from '../http/index.js';
import { mostLiked } from '../ranking/pipeline.js';
import type { RankerPool } from '../ranking/pool.js';

/** The real Recommender: the shared feature store on this thread, ranking in the worker pool. */
export class PoolRecommender implements Recommender {
  private ready = true;

  constructor(
    private readonly store: FeatureStore,
    private readonly catalog: Map<number, PostInfo>,
    private readonly pool: RankerPool,
  ) {}

  hasUser(userId: number): boolean {
    return userId <= this.store.dims.maxUserId && (this.store.userIndexById[userId] ?? -1) >= 0;
  }

  async rank(req: RankRequest): Promise<RankResult> {
    const ui = this.store.userIndexById[req.userId]!;
    return this.pool.rank(req.group, { ui, tMs: req.timeMs, limit: req.limit });
  }

  fallback(req: RankRequest): RankResult {
    const ui = this.store.userIndexById[req.userId]!;
    return { postIds: mostLiked(this.store, ui, req.timeMs, req.limit), modelVersion: 'fallback-popular' };
  }

  post(postId: number): PostInfo | undefined {
    return this.catalog.get(postId);
  }

  isReady(): boolean {
    return this.ready;
  }

  async close(): Promise<void> {
    this.ready = false;
    await this.pool.close();
  }
}
