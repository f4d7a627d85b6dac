import type { Database } from '../db/index.js';
import { fillUserContext, loadFeatureStore, newUserContext } from '../features/index.js';
import { HoldoutOverlapError, MissingDataError, ValidationError } from '../errors/index.js';
import type { LoadedModel } from '../ranking/onnx-model.js';
import { retrievalFor } from '../ranking/pipeline.js';
import { modelPolicy, popularPolicy, randomPolicy, readLikes, type Policy } from './policies.js';
import { drawRequests, type CheckRequest } from './requests.js';
import { histogram01, meanWithCi } from './score.js';
import type { CheckOptions, CheckReport, HoldoutWindow } from './types.js';

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/**
 * The held-out days: the last `days` whole UTC days of the log, from midnight of the first one
 * to the last event. Whole days, so that `feedrec train --until <first held-out day>` is the
 * matching cut-off.
 */
export function holdoutWindow(lastEventMs: number, days: number): HoldoutWindow {
  if (!Number.isInteger(days) || days < 1)
    throw new ValidationError(`--holdout-days must be a positive integer, got ${days}`);
  const startMs = (Math.floor(lastEventMs / DAY_MS) - days + 1) * DAY_MS;
  return { startMs, endMs: lastEventMs, start: iso(startMs), end: iso(lastEventMs) };
}

/**
 * The end (exclusive, epoch ms) of the events a model learned from: its cut-off, or just after
 * the last event it read; undefined when its card does not say.
 */
export function trainedUntilMs(model: Pick<LoadedModel, 'meta'>): number | undefined {
  const w = model.meta.window;
  if (!w) return undefined;
  if (typeof w.until_ms === 'number') return w.until_ms;
  return typeof w.last_event_ms === 'number' ? w.last_event_ms + 1 : undefined;
}

/**
 * Refuses a model that learned from events in the held-out days (or whose card has no training
 * window): a hit on a like it was trained on is not a hold-out hit. Returns whether it overlaps
 * (scored anyway with allowOverlap).
 */
export function checkTrainingWindow(
  model: Pick<LoadedModel, 'meta' | 'name' | 'version'>,
  window: HoldoutWindow,
  allowOverlap: boolean,
): boolean {
  const until = trainedUntilMs(model);
  if (until !== undefined && until <= window.startMs) return false;
  if (allowOverlap) return true;
  const what =
    until === undefined
      ? `has no training window in its card (trained before \`feedrec train --until\` existed)`
      : `learned from events up to ${iso(until)}, which overlaps the held-out days from ${window.start}`;
  throw new HoldoutOverlapError(
    `model ${model.name}/${model.version} ${what}: its hold-out score would count likes it was trained on. ` +
      `Train it with \`feedrec train --until ${window.start}\`, or pass --allow-overlap to score it anyway.`,
  );
}

/**
 * The checker on imported real tables, which have no ground truth: requests fall in the last
 * `holdoutDays` of the log, and an answer hits when the user liked one of the returned posts at
 * or after the request time inside that window. Features only read events before the request
 * time, so the held-out likes cannot leak into the answers; models must have been trained
 * before the held-out days (checkTrainingWindow).
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
  const window = holdoutWindow(Number(span.hi), opts.holdoutDays);
  const { startMs, endMs } = window;
  log(`held-out days ${window.start} … ${window.end}`);

  // Models first: a refused model stops the check before any work is done.
  const models = new Map<string, { model: LoadedModel; overlap: boolean }>();
  try {
    for (const name of opts.policies) {
      if (name !== 'control' && name !== 'test') continue;
      const model = await loadModelFor(name);
      models.set(name, { model, overlap: false });
      models.get(name)!.overlap = checkTrainingWindow(model, window, opts.allowOverlap === true);
    }
  } catch (err) {
    for (const m of models.values()) await m.model.release();
    throw err;
  }

  const report: CheckReport = {
    checker: {
      seed: opts.seed,
      requests: opts.requests,
      mode: 'holdout',
      holdoutDays: opts.holdoutDays,
      holdout: window,
    },
    world: null,
    ranking: { candidates: opts.candidates, rankAll: opts.rankAll },
    policies: {},
  };
  try {
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
        const { model } = models.get(name)!;
        const p = modelPolicy(name, store, model, {
          set: name,
          retrieval: retrievalFor(model.meta),
          candidates: opts.candidates,
          rankAll: opts.rankAll,
        });
        p.auc = model.meta.validation.auc;
        policies.push(p);
      } else log(`policy ${name} needs the ground truth of a simulated world; skipped on real tables`);
    }
    const hit = (r: CheckRequest, ids: number[]) =>
      (future.get(r.userId) ?? []).some((l) => l.tMs >= r.tMs && ids.slice(0, 5).includes(l.postId)) ? 1 : 0;
    for (const p of policies) {
      log(`scoring ${p.name} on the held-out days…`);
      const answers = await p.answer(reqs);
      const hits = reqs.map((r, i) => hit(r, answers[i]!.postIds));
      const { mean, ci } = meanWithCi(hits);
      const score: CheckReport['policies'][string] = {
        hitrate: mean,
        ci,
        requests: reqs.length,
        distribution: histogram01(hits),
        ...(p.auc ? { auc: p.auc } : {}),
      };
      const m = models.get(p.name);
      if (m) {
        const until = trainedUntilMs(m.model);
        score.model = `${m.model.name}/${m.model.version}`;
        score.trainedUntil = until === undefined ? null : iso(until);
        if (m.overlap) score.overlap = true;
      }
      report.policies[p.name] = score;
    }
  } finally {
    for (const m of models.values()) await m.model.release();
  }
  return report;
}
