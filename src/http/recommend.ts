import type { Context } from 'hono';
import { assignGroup } from '../ab/index.js';
import {
  DeadlineExceededError,
  NotReadyError,
  OverloadedError,
  UnknownUserError,
  ValidationError,
} from '../errors/index.js';
import type { FallbackReason } from './metrics.js';
import { parseRecommendationsQuery } from './params.js';
import { GROUP_HEADER, TOKEN_HEADER, forcedGroup } from './qa.js';
import type { AppEnv, HttpDeps, PostInfo, RankRequest, RankResult } from './types.js';

/** Names the model version that ranked every post of the answer, e.g. `test/v2`. */
export const MODEL_VERSION_HEADER = 'X-Model-Version';

/** The Content-Type c.json would set, for answers written from prepared JSON. */
const JSON_TYPE = { 'Content-Type': 'application/json' } as const;

/** Seconds a shed client is told to wait: queues drain in well under a second when healthy. */
export const SHED_RETRY_AFTER_S = 1;

type Outcome = { result: RankResult; fallback?: FallbackReason };

/** GET /post/recommendations/: validation, A/B group, bounded queue, deadline, exposure. */
export function recommendationsHandler(deps: HttpDeps) {
  const { config, recommender, exposures, metrics, logger } = deps;
  let inFlight = 0;

  // Errors a caller caused, and a shed request (503): they pass through instead of turning into
  // a fallback answer.
  const passesThrough = (err: unknown) =>
    err instanceof ValidationError || err instanceof UnknownUserError || err instanceof OverloadedError;

  async function rankWithDeadline(req: RankRequest): Promise<Outcome> {
    // In-flight counts model calls, not HTTP requests: a call past its deadline still occupies
    // the pool (worker tasks are never cancelled), so it must keep counting against the bound.
    if (inFlight >= config.serving.queueLimit) {
      metrics.shed.inc();
      throw new OverloadedError(SHED_RETRY_AFTER_S);
    }
    inFlight += 1;
    metrics.rankingInFlight.set(inFlight);
    const model = Promise.resolve().then(() => recommender.rank(req));
    model
      .finally(() => {
        inFlight -= 1;
        metrics.rankingInFlight.set(inFlight);
      })
      .catch(() => undefined);

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), config.serving.deadlineMs);
    });
    try {
      const settled = model.then(
        (result) => ({ ok: true as const, result }),
        (err: unknown) => ({ ok: false as const, err }),
      );
      const winner = await Promise.race([settled, deadline]);
      if (winner === 'deadline') {
        // The late result is dropped; counting it shows how far behind the pool runs.
        model.then(
          () => metrics.lateResults.inc(),
          () => undefined,
        );
        return { result: recommender.fallback(req), fallback: 'deadline' };
      }
      if (winner.ok) return { result: winner.result };
      if (winner.err instanceof OverloadedError) metrics.shed.inc();
      if (passesThrough(winner.err)) throw winner.err;
      // The queue dropped it at its deadline, before any model work: the same as a late answer.
      if (winner.err instanceof DeadlineExceededError)
        return { result: recommender.fallback(req), fallback: 'deadline' };
      logger.warn({
        msg: 'model ranking failed, serving fallback',
        requestId: req.requestId,
        err: winner.err,
      });
      return { result: recommender.fallback(req), fallback: 'error' };
    } finally {
      clearTimeout(timer);
    }
  }

  // A post's JSON is written once and reused by every answer that shows it: serialising five
  // ~1.3 KB texts per answer was about 7 % of this thread's busy time under overload (profile).
  // Keyed by the catalog's own object, so a reload's new catalog brings new texts with it.
  const postJson = new WeakMap<PostInfo, string>();
  /** The answer's posts as the JSON of a list's items (what c.json would write), and their ids. */
  function toPosts(ids: number[], limit: number, requestId: string): { postIds: number[]; json: string } {
    const postIds: number[] = [];
    const parts: string[] = [];
    for (const id of ids.slice(0, limit)) {
      const p = recommender.post(id);
      if (!p) {
        logger.warn({ msg: 'ranked post has no text, skipped', requestId, postId: id });
        continue;
      }
      let json = postJson.get(p);
      if (json === undefined) {
        json = JSON.stringify({ id: p.id, text: p.text, topic: p.topic } satisfies PostInfo);
        postJson.set(p, json);
      }
      postIds.push(p.id);
      parts.push(json);
    }
    return { postIds, json: parts.join(',') };
  }

  return async (c: Context<AppEnv>) => {
    const vars = c.get('log');
    const forced = forcedGroup(c.req.header(GROUP_HEADER), c.req.header(TOKEN_HEADER), config.qaToken);
    const q = parseRecommendationsQuery(c.req.query());
    vars.userId = q.userId;
    if (!recommender.isReady()) throw new NotReadyError();
    if (!recommender.hasUser(q.userId)) throw new UnknownUserError(q.userId);

    // Single-model services have one group by definition; only A/B mode assigns (or forces) one.
    const group =
      config.mode === 'ab'
        ? (forced ?? assignGroup(config.ab.salt, q.userId, config.ab.testShare))
        : config.mode;
    vars.group = group;
    vars.forced = forced !== undefined;

    const req: RankRequest = {
      deadline: performance.now() + config.serving.deadlineMs,
      userId: q.userId,
      timeMs: q.timeMs,
      limit: q.limit,
      group,
      requestId: vars.requestId,
    };
    const { result, fallback } = await rankWithDeadline(req);
    if (fallback) {
      vars.fallback = true;
      metrics.fallbacks.inc({ reason: fallback, group });
    }
    const posts = toPosts(result.postIds, q.limit, vars.requestId);
    // One answer comes from one model run, so it names exactly one version (or the fallback).
    c.header(MODEL_VERSION_HEADER, result.modelVersion);

    if (config.mode !== 'ab') return c.body(`[${posts.json}]`, 200, JSON_TYPE);
    // A HEAD answer shows nothing to anyone, so it is no exposure.
    if (!forced && c.req.method !== 'HEAD') {
      try {
        exposures.log({
          loggedAt: new Date(),
          requestId: vars.requestId,
          userId: q.userId,
          group,
          modelVersion: result.modelVersion,
          postIds: posts.postIds,
          requestTime: new Date(q.timeMs),
        });
      } catch (err) {
        // The user still gets the answer; a broken sink shows in the logs, not as a 500.
        logger.error({ msg: 'exposure logging failed', requestId: vars.requestId, err });
      }
    }
    return c.body(`{"exp_group":${JSON.stringify(group)},"recommendations":[${posts.json}]}`, 200, JSON_TYPE);
  };
}
