import type { DbSession } from '../db/index.js';
import type { FeatureStore } from '../features/index.js';
import { mostLiked, RankingPipeline, type PipelineOptions } from '../ranking/pipeline.js';
import { ValidationError } from '../errors/index.js';
import type { World } from '../world/index.js';
import { checkerRandom, type CheckRequest } from './requests.js';

/** What a policy returns for one request. */
export interface Answer {
  postIds: number[];
  group?: string;
  latencyMs?: number;
}

export interface Policy {
  name: string;
  answer(reqs: readonly CheckRequest[]): Promise<Answer[]>;
  auc?: number;
}

/** Posts each requested user liked, with times: the checker reads the log, the service never its source. */
export type LikeHistory = Map<number, { postId: number; tMs: number }[]>;

/** Like rows of feed_data matching `where` (SQL over its columns), grouped by user in time order. */
export async function readLikes(db: DbSession, where: string, params: unknown[]): Promise<LikeHistory> {
  const rows = await db.query<{ user_id: number; post_id: number; ms: string }>(
    `select user_id, post_id, (extract(epoch from "timestamp") * 1000)::bigint ms
     from feed_data where action = 'like' and ${where} order by "timestamp"`,
    params,
  );
  const out: LikeHistory = new Map();
  for (const r of rows) {
    if (!out.has(r.user_id)) out.set(r.user_id, []);
    out.get(r.user_id)!.push({ postId: r.post_id, tMs: Number(r.ms) });
  }
  return out;
}

export function likedBefore(history: LikeHistory, userId: number, tMs: number): Set<number> {
  return new Set((history.get(userId) ?? []).filter((l) => l.tMs < tMs).map((l) => l.postId));
}

export const LIMIT = 5;

/** Five distinct posts drawn uniformly among those the user has not liked before the request. */
export function randomPolicy(
  postIds: readonly number[],
  liked: (userId: number, tMs: number) => Set<number>,
  seed: number,
): Policy {
  const rnd = checkerRandom(seed ^ 0x5eed);
  return {
    name: 'random',
    async answer(reqs) {
      return reqs.map((r) => {
        const seen = liked(r.userId, r.tMs);
        const picked = new Set<number>();
        while (picked.size < Math.min(LIMIT, postIds.length - seen.size)) {
          const id = postIds[Math.floor(rnd() * postIds.length)]!;
          if (!seen.has(id)) picked.add(id);
        }
        return { postIds: [...picked] };
      });
    },
  };
}

/** Best five by the true probability, excluding posts already liked: the ceiling. */
export function oraclePolicy(world: World, history: LikeHistory): Policy {
  const buf = new Float64Array(world.posts.length);
  return {
    name: 'oracle',
    async answer(reqs) {
      return reqs.map((r) => {
        const ui = world.userIndex(r.userId);
        world.scoreAllPosts(ui, r.tMs, buf);
        const liked = likedBefore(history, r.userId, r.tMs);
        const order = Array.from(buf.keys()).filter((pi) => !liked.has(world.posts[pi]!.postId));
        order.sort((a, b) => buf[b]! - buf[a]! || a - b);
        return { postIds: order.slice(0, LIMIT).map((pi) => world.posts[pi]!.postId) };
      });
    },
  };
}

/** Most liked posts before the request's day that the user has not liked (the service's fallback). */
export function popularPolicy(store: FeatureStore): Policy {
  return {
    name: 'popular',
    async answer(reqs) {
      return reqs.map((r) => ({
        postIds: mostLiked(store, store.userIndexById[r.userId] ?? -1, r.tMs, LIMIT),
      }));
    },
  };
}

export interface ModelScorer {
  score(features: Float32Array, rows: number): Promise<Float32Array>;
}

/** A trained model through the same ranking pipeline the service runs, in process. */
export function modelPolicy(
  name: string,
  store: FeatureStore,
  model: ModelScorer,
  opts: PipelineOptions,
  auc?: number,
  batch = 32,
): Policy {
  const pipeline = new RankingPipeline(store, opts);
  return {
    name,
    auc,
    async answer(reqs) {
      const out: Answer[] = [];
      for (let i = 0; i < reqs.length; i += batch) {
        const inputs = reqs.slice(i, i + batch).map((r) => ({
          ui: store.userIndexById[r.userId] ?? -1,
          tMs: r.tMs,
          limit: LIMIT,
        }));
        const prepared = pipeline.prepare(inputs);
        const scores = await model.score(prepared.features, prepared.rows);
        for (const ids of pipeline.finish(prepared, inputs, scores)) out.push({ postIds: ids });
      }
      return out;
    },
  };
}

/**
 * The URL of a service on this machine: the checker and the experiment simulator send bursts of
 * traffic and must never be pointed at somebody else's host by a typo.
 */
export function loopbackUrl(baseUrl: string, who: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ValidationError(
      `${who} needs a URL such as http://127.0.0.1:8000, got ${JSON.stringify(baseUrl)}`,
    );
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new ValidationError(`${who} only targets this machine (127.0.0.1), not ${url.hostname}`);
  return url;
}

/** The running service over HTTP, exactly as the real checker calls it. */
export function servicePolicy(baseUrl: string, concurrency = 4): Policy {
  const url = loopbackUrl(baseUrl, 'the HTTP checker');
  return {
    name: 'service',
    async answer(reqs) {
      const out: Answer[] = new Array(reqs.length);
      let next = 0;
      async function worker() {
        while (next < reqs.length) {
          const i = next++;
          const r = reqs[i]!;
          const time = new Date(r.tMs).toISOString().slice(0, 19);
          const started = performance.now();
          const res = await fetch(
            new URL(`/post/recommendations/?id=${r.userId}&time=${time}&limit=${LIMIT}`, url),
          );
          const body = (await res.json()) as unknown;
          const latencyMs = performance.now() - started;
          if (!res.ok)
            throw new Error(`service answered ${res.status} for user ${r.userId}: ${JSON.stringify(body)}`);
          const list = Array.isArray(body)
            ? body
            : (body as { recommendations: unknown[]; exp_group?: string }).recommendations;
          out[i] = {
            postIds: (list as { id: number }[]).map((p) => p.id),
            group: Array.isArray(body) ? undefined : (body as { exp_group: string }).exp_group,
            latencyMs,
          };
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker));
      return out;
    },
  };
}
