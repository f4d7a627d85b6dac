// Ranking experiments: fits model variants on one training matrix (train.py, the same code as
// `feedrec train`) and scores each with the checker (expected Hitrate@5 on hidden requests,
// two-stage ranking as served) on tuning seeds. Only final choices are scored on the reporting
// seed, by `feedrec check` itself.
//
//   DATABASE_URL=… node dist/bench/ranking-experiments.js --suite ablation \
//     --matrix data/training-matrix --valid-from-ms <ms> [--seeds 7] [--out docs/experiments/ablation.md]
//
// Suites: ablation (feature groups removed), objectives (loss functions), curve (training rows),
// size (depth, trees, learning rate).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/index.js';
import { runCheck } from '../src/eval/run.js';
import { runTrainer, type TrainerSummary } from '../src/training/python.js';

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(name);
  if (i >= 0) return process.argv[i + 1]!;
  if (def === undefined) throw new Error(`${name} is required`);
  return def;
}

interface Variant {
  label: string;
  model: 'control' | 'test';
  /** train.py flags besides the common ones. */
  args: string[];
}

const NEW_PUBLIC = 'post_lift_*,topic_lift_*,cluster_lift_*,cluster_like_rate';
const NEW_USER = 'user_topic_lift,user_cluster_lift,hours_since_like_log,likes_last_day';

const SUITES: Record<string, Variant[]> = {
  ablation: [
    { label: 'all features', model: 'test', args: [] },
    { label: '− post × segment lifts', model: 'test', args: ['--drop-features', 'post_lift_*'] },
    { label: '− topic × segment lifts', model: 'test', args: ['--drop-features', 'topic_lift_*'] },
    { label: '− cluster × segment lifts', model: 'test', args: ['--drop-features', 'cluster_lift_*'] },
    {
      label: '− user topic / cluster lifts',
      model: 'test',
      args: ['--drop-features', 'user_topic_lift,user_cluster_lift'],
    },
    {
      label: '− like recency',
      model: 'test',
      args: ['--drop-features', 'hours_since_like_log,likes_last_day'],
    },
    {
      label: '− all new (v1 features)',
      model: 'test',
      args: ['--drop-features', `${NEW_PUBLIC},${NEW_USER}`],
    },
    { label: 'all features', model: 'control', args: [] },
    { label: '− post × segment lifts', model: 'control', args: ['--drop-features', 'post_lift_*'] },
    { label: '− topic × segment lifts', model: 'control', args: ['--drop-features', 'topic_lift_*'] },
    {
      label: '− cluster × segment lifts',
      model: 'control',
      args: ['--drop-features', 'cluster_lift_*,cluster_like_rate'],
    },
    { label: '− all new (v1 features)', model: 'control', args: ['--drop-features', NEW_PUBLIC] },
  ],
  objectives: ['control', 'test'].flatMap((model) =>
    [
      ['Logloss', []],
      ['YetiRank, group = user-day', ['--loss-function', 'YetiRank', '--group-by', 'user-day']],
      [
        'QueryCrossEntropy, group = user-day',
        ['--loss-function', 'QueryCrossEntropy', '--group-by', 'user-day'],
      ],
    ].map(([label, args]) => ({
      label: label as string,
      model: model as 'control' | 'test',
      args: args as string[],
    })),
  ),
  curve: ['control', 'test'].flatMap((model) =>
    ['100000', '200000', '400000', '0'].map((rows) => ({
      label: rows === '0' ? 'all rows of the matrix' : `${rows} rows`,
      model: model as 'control' | 'test',
      args: rows === '0' ? [] : ['--max-train-rows', rows],
    })),
  ),
  size: ['control', 'test'].flatMap((model) =>
    [
      ['depth 4, lr 0.12', ['--depth', '4']],
      ['depth 6, lr 0.12', []],
      ['depth 8, lr 0.12', ['--depth', '8']],
      ['depth 6, lr 0.05, 1000 trees max', ['--learning-rate', '0.05', '--iterations', '1000']],
      ['depth 6, 60 trees', ['--iterations', '60', '--early-stopping-rounds', '0']],
    ].map(([label, args]) => ({
      label: label as string,
      model: model as 'control' | 'test',
      args: args as string[],
    })),
  ),
};

const suite = arg('--suite');
const matrix = arg('--matrix');
const validFromMs = Number(arg('--valid-from-ms'));
const seeds = arg('--seeds', '7').split(',').map(Number);
const only = arg('--only', '');
const out = arg('--out', '');
const requests = Number(arg('--requests', '2000'));
const variants = (SUITES[suite] ?? []).filter((v) => !only || only.split(',').includes(v.model));
if (variants.length === 0) throw new Error(`unknown suite ${suite}: ${Object.keys(SUITES).join(', ')}`);

const work = path.join(os.tmpdir(), `feedrec-experiments-${process.pid}`);
const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: arg('--data-dir', 'data') });
const header = JSON.parse(await readFile(path.join(matrix, 'test', 'header.json'), 'utf8')) as {
  rows: number;
};
const rows: string[] = [];
const started = Date.now();
try {
  for (const [i, v] of variants.entries()) {
    const dir = path.join(work, String(i));
    await mkdir(dir, { recursive: true });
    const fit: TrainerSummary = await runTrainer({
      matrixDir: path.join(matrix, v.model),
      outDir: path.join(dir, v.model, 'v1'),
      name: v.model,
      validFromMs,
      iterations: 400,
      depth: 6,
      learningRate: 0.12,
      threads: 2,
      seed: 42,
      extraArgs: v.args,
      onOutput: () => undefined,
    });
    const hr: string[] = [];
    for (const seed of seeds) {
      const report = await runCheck(db, {
        seed,
        requests,
        policies: [v.model],
        modelsDir: dir,
        candidates: 150,
        rankAll: false,
      });
      hr.push(report.policies[v.model]!.hitrate.toFixed(3));
    }
    const line = `| ${v.model} | ${v.label} | \`${v.args.join(' ') || '–'}\` | ${hr.join(' | ')} | ${fit.auc.toFixed(4)} | ${fit.tree_count} | ${fit.fit_seconds.toFixed(0)} |`;
    rows.push(line);
    console.error(line);
    await rm(dir, { recursive: true, force: true });
  }
} finally {
  await db.close();
}
const load = os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ');
const text = [
  `Suite \`${suite}\` on the matrix \`${matrix}\` (${header.rows} rows; validation from ${new Date(validFromMs).toISOString()}); ` +
    `expected Hitrate@5 on checker seed(s) ${seeds.join(', ')} (tuning seeds), ${requests} requests, two-stage ranking, 150 candidates. ` +
    `Common parameters: depth 6, learning rate 0.12, at most 400 trees, early stopping on validation AUC (100 rounds). ` +
    `${((Date.now() - started) / 60000).toFixed(1)} min, load average at the end ${load} (2 shared cores).`,
  '',
  `| model | variant | train.py flags | ${seeds.map((s) => `HR@5 seed ${s}`).join(' | ')} | valid AUC | trees | fit s |`,
  `|---|---|---|${seeds.map(() => '--:').join('|')}|--:|--:|--:|`,
  ...rows,
  '',
].join('\n');
if (out) {
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, text);
}
console.log(text);
await rm(work, { recursive: true, force: true });
