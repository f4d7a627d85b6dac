import type { Database } from '../db/index.js';
import { featureNames, loadFeatureStore, type FeatureSet, type FeatureStore } from '../features/index.js';
import { MissingDataError } from '../errors/index.js';
import { findModels, loadModel, type LoadedModel } from '../ranking/onnx-model.js';
import { retrievalFor } from '../ranking/pipeline.js';
import { createWorld, PERIOD, readWorldSpec, regeneratedLikes, type World } from '../world/index.js';
import {
  likedBefore,
  modelPolicy,
  oraclePolicy,
  popularPolicy,
  randomPolicy,
  readLikes,
  servicePolicy,
  type LikeHistory,
  type Policy,
} from './policies.js';
import { runHoldoutCheck } from './holdout.js';
import { checkerRandom, drawRequests, type CheckRequest } from './requests.js';
import { expectedHit, histogram01, meanWithCi, percentile } from './score.js';
import type { CheckOptions, CheckReport } from './types.js';

export type { CheckOptions, CheckReport, HoldoutWindow } from './types.js';

export const POLICIES = ['random', 'popular', 'control', 'test', 'oracle'] as const;

/** Policies that need the database (feature store, models); the others need only the world. */
export const DB_POLICIES = ['popular', 'control', 'test'];

/** Loads the latest version of a model and checks it against the feature code. */
export async function latestModel(
  modelsDir: string,
  set: FeatureSet,
  intraOpThreads = 2,
): Promise<LoadedModel> {
  const loc = (await findModels(modelsDir)).get(set);
  if (!loc) throw new MissingDataError(`no ${set} model under ${modelsDir}: run \`npm run train\``);
  return loadModel(loc.dir, featureNames(set), { intraOpThreads });
}

/** Scores answers with the world's true probabilities (liked-before drop included). */
function scoreAnswers(
  world: World,
  history: LikeHistory,
  reqs: readonly CheckRequest[],
  answers: { postIds: number[] }[],
  rnd: () => number,
): { expected: number[]; sampled: number[] } {
  const expected: number[] = [];
  const sampled: number[] = [];
  reqs.forEach((r, i) => {
    const ui = world.userIndex(r.userId);
    const liked = likedBefore(history, r.userId, r.tMs);
    const ps = answers[i]!.postIds.slice(0, 5).map((id) => {
      const pi = world.postIndex(id);
      return pi < 0 ? 0 : world.likeProbability(ui, pi, r.tMs, liked.has(id));
    });
    expected.push(expectedHit(ps));
    sampled.push(ps.some((p) => rnd() < p) ? 1 : 0);
  });
  return { expected, sampled };
}

/** Likes of the requested users regenerated from the world's seed: same seed, same log. */
function historyFromWorld(world: World, userIds: number[]): LikeHistory {
  const out: LikeHistory = new Map();
  for (const id of userIds) out.set(id, regeneratedLikes(world, world.userIndex(id)));
  return out;
}

/**
 * `feedrec check` against the simulated world: every policy on the same hidden requests.
 * Without a database (HTTP mode while the service holds the embedded one) the world comes from
 * opts.world and the users' likes are regenerated from its seed.
 */
export async function runCheck(db: Database | undefined, opts: CheckOptions): Promise<CheckReport> {
  const log = opts.log ?? (() => {});
  const spec = opts.holdout ? null : (opts.world ?? (db ? await readWorldSpec(db) : null));
  if (!spec) {
    if (!db) throw new MissingDataError('without a database the checker needs --world scale:seed');
    log(
      opts.holdout
        ? 'hold-out mode: scoring on held-out days of the log, without the ground truth'
        : 'no simulated world in this database: scoring on held-out days of the real log',
    );
    return runHoldoutCheck(db, { ...opts, holdoutDays: opts.holdoutDays ?? 7 }, (set) =>
      latestModel(opts.modelsDir, set),
    );
  }
  const world = createWorld(spec);
  const reqs = drawRequests(
    world.users.map((u) => u.userId),
    PERIOD,
    opts.seed,
    opts.requests,
  );
  const users = [...new Set(reqs.map((r) => r.userId))];
  const history = db
    ? await readLikes(db, 'user_id = any($1::int[])', [users])
    : historyFromWorld(world, users);
  let store: FeatureStore | undefined;
  const needStore = opts.policies.some((p) => DB_POLICIES.includes(p));
  if (needStore) {
    if (!db) throw new MissingDataError(`policies ${DB_POLICIES.join(', ')} need the database`);
    store = (await loadFeatureStore(db)).store;
  }

  const policies: Policy[] = [];
  const models: LoadedModel[] = [];
  for (const name of opts.policies) {
    if (name === 'random')
      policies.push(
        randomPolicy(
          world.posts.map((p) => p.postId),
          (u, t) => likedBefore(history, u, t),
          opts.seed,
        ),
      );
    else if (name === 'oracle') policies.push(oraclePolicy(world, history));
    else if (name === 'popular') policies.push(popularPolicy(store!));
    else if (name === 'control' || name === 'test') {
      const model = await latestModel(opts.modelsDir, name);
      models.push(model);
      const p = modelPolicy(name, store!, model, {
        set: name,
        retrieval: retrievalFor(model.meta),
        candidates: opts.candidates,
        rankAll: opts.rankAll,
      });
      p.auc = model.meta.validation.auc;
      policies.push(p);
    } else if (name !== 'service') throw new MissingDataError(`unknown policy ${name}`);
  }
  if (opts.url) policies.push(servicePolicy(opts.url));

  const report: CheckReport = {
    checker: { seed: opts.seed, requests: reqs.length, mode: 'ground-truth' },
    world: { seed: spec.seed, scale: spec.scale, ...(spec.exposure ? { exposure: spec.exposure } : {}) },
    ranking: { candidates: opts.candidates, rankAll: opts.rankAll },
    policies: {},
  };
  try {
    for (const policy of policies) {
      log(`scoring ${policy.name}…`);
      const answers = await policy.answer(reqs);
      const { expected, sampled } = scoreAnswers(world, history, reqs, answers, checkerRandom(opts.seed + 1));
      const { mean, ci } = meanWithCi(expected);
      const score: CheckReport['policies'][string] = {
        hitrate: mean,
        ci,
        sampled: sampled.reduce((s, v) => s + v, 0) / sampled.length,
        requests: reqs.length,
        distribution: histogram01(expected),
      };
      if (policy.auc !== undefined) score.auc = policy.auc;
      const lat = answers.map((a) => a.latencyMs).filter((x): x is number => x !== undefined);
      if (lat.length > 0) {
        lat.sort((a, b) => a - b);
        score.latencyMs = {
          p50: percentile(lat, 0.5),
          p90: percentile(lat, 0.9),
          p99: percentile(lat, 0.99),
          max: lat[lat.length - 1]!,
        };
        const groups: Record<string, number> = {};
        for (const a of answers) if (a.group) groups[a.group] = (groups[a.group] ?? 0) + 1;
        if (Object.keys(groups).length > 0) score.groups = groups;
      }
      report.policies[policy.name] = score;
    }
  } finally {
    for (const m of models) await m.release();
  }
  const random = report.policies.random?.hitrate;
  const oracle = report.policies.oracle?.hitrate;
  if (random !== undefined && oracle !== undefined && oracle > random)
    for (const s of Object.values(report.policies)) s.gapClosed = (s.hitrate - random) / (oracle - random);
  const modelNames = { control: 'control', test: 'test' } as Record<string, string>;
  for (const [name, m] of Object.entries(modelNames)) {
    const loaded = models.find((x) => x.name === m);
    if (loaded && report.policies[name]) report.policies[name].model = `${loaded.name}/${loaded.version}`;
  }
  return report;
}
