// A tiny, generated Recommender for HTTP tests and for load-testing the HTTP layer alone.
// It is no model: it only honours the Recommender contract (limit, liked posts excluded).
import type { PostInfo, RankRequest, RankResult, Recommender } from '../src/http/index.js';

export interface FixtureOptions {
  users?: number;
  posts?: number;
  /** Replaces the model path, e.g. to make it slow or failing. */
  rank?: (req: RankRequest) => Promise<RankResult>;
  ready?: boolean;
}

export type FixtureRecommender = Recommender & {
  setReady(ready: boolean): void;
  readonly rankCalls: RankRequest[];
  /** Post ids user `u` liked, each at 2021-10-15T00:00:00Z. */
  likedBy(userId: number): number[];
};

const TOPICS = ['business', 'covid', 'entertainment', 'movie', 'politics', 'sport', 'tech'];
const LIKED_AT = Date.UTC(2021, 9, 15);

export function fixtureRecommender(opts: FixtureOptions = {}): FixtureRecommender {
  const users = opts.users ?? 1000;
  const nPosts = opts.posts ?? 50;
  let ready = opts.ready ?? true;
  const rankCalls: RankRequest[] = [];
  const posts = new Map<number, PostInfo>();
  for (let id = 1; id <= nPosts; id++) {
    posts.set(id, { id, text: `post ${id} text`, topic: TOPICS[id % TOPICS.length]! });
  }
  // Popularity falls with the id, so the fallback is simply ascending ids.
  const byPopularity = [...posts.keys()];
  const likedBy = (u: number) => [(u % nPosts) + 1, ((u * 7) % nPosts) + 1];
  const notLiked = (req: RankRequest) => {
    const liked = req.timeMs > LIKED_AT ? new Set(likedBy(req.userId)) : new Set<number>();
    return (ids: number[]) => ids.filter((id) => !liked.has(id));
  };

  return {
    rankCalls,
    likedBy,
    setReady: (r) => void (ready = r),
    isReady: () => ready,
    hasUser: (u) => Number.isInteger(u) && u >= 1 && u <= users,
    post: (id) => posts.get(id),
    async rank(req) {
      rankCalls.push(req);
      if (opts.rank) return opts.rank(req);
      // A "model" that depends on user and group, so the groups visibly differ.
      const salt = req.group === 'test' ? 31 : 17;
      const order = [...byPopularity].sort(
        (a, b) => ((a * salt + req.userId) % 101) - ((b * salt + req.userId) % 101),
      );
      return { postIds: notLiked(req)(order).slice(0, req.limit), modelVersion: `fixture-${req.group}-v1` };
    },
    fallback(req) {
      return { postIds: notLiked(req)(byPopularity).slice(0, req.limit), modelVersion: 'fallback-popular' };
    },
  };
}
