import type { Database } from '../db/index.js';
import { fillUserContext, loadFeatureStore, newUserContext } from '../features/index.js';
import { MissingDataError } from '../errors/index.js';
import type { LoadedModel } from '../ranking/onnx-model.js';
import { modelPolicy, popularPolicy, randomPolicy, readLikes, type Policy } from './policies.js';
import { drawRequests, type CheckRequest } from './requests.js';
import { meanWithCi } from './score.js';
import type { CheckOptions, CheckReport } from './run.js';

/**
 * The checker on imported real tables, which have no ground truth: requests fall in the last
 * `holdoutDays` of the log, and an answer hits when the user liked one of the returned posts at
 * or after the request time inside that window. Features only read events before the request
 * time, so the held-out likes cannot leak into the answers.
 */
export async function runHoldoutCheck(
  db: Database,
  opts: CheckOptions & { holdoutDays: number },
  loadModelFor: (set: 'control' | 'test') => Promise<LoadedModel>,
): Promise<CheckReport> {
  const log = opts.log ?? (() => {});
  const span = (
    await db.query<{ hi: string | null }>(
      `select (extract(epoch from max("timestamp")) * 1000)::bigint hi from feed_data`,
    )
  )[0]!;
  if (span.hi === null) throw new MissingDataError('feed_data is empty: nothing to hold out');
  const endMs = Number(span.hi);
  const startMs = endMs - opts.holdoutDays * 86_400_000;
  const active = (
    await db.query<{ user_id: number }>(
      // Users without a profile cannot be served (the service answers 404), so they are not asked.
      `select distinct f.user_id from feed_data f join user_data u on u.user_id = f.user_id
       where f."timestamp" >= to_timestamp($1 / 1000.0) at time zone 'UTC' order by 1`,
      [startMs],
    )
  ).map((r) => r.user_id);
  if (active.length === 0) throw new MissingDataError('no user is active in the held-out days');
  const reqs = drawRequests(active, { startMs, endMs }, opts.seed, opts.requests);
  const future = await readLikes(db, `"timestamp" >= to_timestamp($1 / 1000.0) at time zone 'UTC'`, [
    startMs,
  ]);
  const { store } = await loadFeatureStore(db);
  const ctx = newUserContext(store);
  const policies: Policy[] = [];
  const models: LoadedModel[] = [];
  for (const name of opts.policies) {
    if (name === 'random')
      policies.push(
        randomPolicy(
          Array.from(store.postIds),
          (u, t) => {
            const ui = store.userIndexById[u] ?? -1;
            if (ui < 0) return new Set();
            return new Set(fillUserContext(store, ui, t, ctx).liked.map((pi) => store.postIds[pi]!));
          },
          opts.seed,
        ),
      );
    else if (name === 'popular') policies.push(popularPolicy(store));
    else if (name === 'control' || name === 'test') {
      const model = await loadModelFor(name);
      models.push(model);
      const p = modelPolicy(name, store, model, {
        set: name,
        candidates: opts.candidates,
        rankAll: opts.rankAll,
      });
      p.auc = model.meta.validation.auc;
      policies.push(p);
    } else log(`policy ${name} needs the ground truth of a simulated world; skipped on real tables`);
  }
  const hit = (r: CheckRequest, ids: number[]) =>
    (future.get(r.userId) ?? []).some((l) => l.tMs >= r.tMs && ids.slice(0, 5).includes(l.postId)) ? 1 : 0;
  const report: CheckReport = {
    checker: { seed: opts.seed, requests: reqs.length, mode: 'holdout', holdoutDays: opts.holdoutDays },
    world: null,
    ranking: { candidates: opts.candidates, rankAll: opts.rankAll },
    policies: {},
  };
  try {
    for (const p of policies) {
      log(`scoring ${p.name} on the held-out days…`);
      const answers = await p.answer(reqs);
      const hits = reqs.map((r, i) => hit(r, answers[i]!.postIds));
      const { mean, ci } = meanWithCi(hits);
      report.policies[p.name] = {
        hitrate: mean,
        ci,
        requests: reqs.length,
        ...(p.auc ? { auc: p.auc } : {}),
      };
    }
  } finally {
    for (const m of models) await m.release();
  }
  return report;
}
