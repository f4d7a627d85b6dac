import type { DbSession } from '../db/index.js';
import { MissingDataError } from '../errors/index.js';
import { utcText } from '../live/index.js';

/** What the report reads from the database, aggregated per user (and per user and day). */
export interface ExperimentData {
  fromMs: number;
  toMs: number;
  /** One row per user and exposure day: the user's group, exposures and hits that day. */
  userDays: {
    userId: number;
    group: string;
    day: string;
    exposures: number;
    hits: number;
    fallbacks: number;
  }[];
  /** Per exposed user: views and likes before the experiment and during it. */
  activity: Map<number, { preViews: number; preLikes: number; views: number; likes: number }>;
  /** Exposures per group and model version (what each group was actually served). */
  models?: { group: string; model: string; exposures: number }[];
}

const epochMs = (col: string) => `(extract(epoch from ${col}) * 1000)::bigint`;

/**
 * Reads exposures in [from, to] and the log around them. A hit is a like, by the exposed user, of
 * one of the exposure's posts, at most `hitWindowMinutes` after the exposure's time.
 */
export async function readExperimentData(
  db: Pick<DbSession, 'query'>,
  opts: { fromMs?: number; toMs?: number; hitWindowMinutes: number },
): Promise<ExperimentData> {
  const span = (
    await db.query<{ lo: string | null; hi: string | null }>(
      `select ${epochMs('min(request_time)')} lo, ${epochMs('max(request_time)')} hi from exposures`,
    )
  )[0]!;
  if (span.lo === null || span.hi === null)
    throw new MissingDataError(
      'the exposures table is empty: run the service in A/B mode (and `feedrec ab simulate`) first',
    );
  const fromMs = opts.fromMs ?? Number(span.lo);
  const toMs = opts.toMs ?? Number(span.hi);
  const window = [utcText(fromMs), utcText(toMs), opts.hitWindowMinutes];

  const userDays = (
    await db.query<{
      user_id: number;
      exp_group: string;
      day: string;
      n: string;
      hits: string;
      fallbacks: string;
    }>(
      `with e as (
         select e.user_id, e.exp_group, e.request_time, e.model_version,
                exists (select 1 from feed_data f
                        where f.user_id = e.user_id and f.action = 'like' and f.post_id = any(e.post_ids)
                          and f."timestamp" >= e.request_time
                          and f."timestamp" <= e.request_time + make_interval(mins => $3::int)) hit
         from exposures e
         where e.request_time >= $1::timestamp and e.request_time <= $2::timestamp)
       select user_id, exp_group, to_char(request_time, 'YYYY-MM-DD') "day", count(*) n,
              count(*) filter (where hit) hits,
              count(*) filter (where model_version like 'fallback%') fallbacks
       from e group by 1, 2, 3`,
      window,
    )
  ).map((r) => ({
    userId: r.user_id,
    group: r.exp_group,
    day: r.day,
    exposures: Number(r.n),
    hits: Number(r.hits),
    fallbacks: Number(r.fallbacks),
  }));

  const users = [...new Set(userDays.map((r) => r.userId))];
  const activity: ExperimentData['activity'] = new Map();
  for (const r of await db.query<{ user_id: number; pv: string; pl: string; v: string; l: string }>(
    `select user_id,
            count(*) filter (where action = 'view' and "timestamp" < $2::timestamp) pv,
            count(*) filter (where action = 'like' and "timestamp" < $2::timestamp) pl,
            count(*) filter (where action = 'view' and "timestamp" >= $2::timestamp
                               and "timestamp" <= $3::timestamp + make_interval(mins => $4::int)) v,
            count(*) filter (where action = 'like' and "timestamp" >= $2::timestamp
                               and "timestamp" <= $3::timestamp + make_interval(mins => $4::int)) l
     from feed_data where user_id = any($1::int[]) group by 1`,
    [users, ...window],
  ))
    activity.set(r.user_id, {
      preViews: Number(r.pv),
      preLikes: Number(r.pl),
      views: Number(r.v),
      likes: Number(r.l),
    });
  const models = (
    await db.query<{ exp_group: string; model_version: string; n: string }>(
      `select exp_group, model_version, count(*) n from exposures
       where request_time >= $1::timestamp and request_time <= $2::timestamp group by 1, 2 order by 1, 2`,
      window.slice(0, 2),
    )
  ).map((r) => ({ group: r.exp_group, model: r.model_version, exposures: Number(r.n) }));
  return { fromMs, toMs, userDays, activity, models };
}
