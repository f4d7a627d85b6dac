// The temporal protocol on a log where users choose what they view (docs/exposure.md): builds
// the taste-exposure demo world into a PGlite folder, trains with `--until <first held-out day>`
// once with the target the log calls for (`--target auto`) and once with P(like | view)
// (`--target view`), scores both in hold-out mode on a tuning checker seed and on a reporting
// seed, and shows the hold-out checker refusing models whose window overlaps the held-out days.
// Every step is the `feedrec` command a user would type, run as its own process.
//
//
// The figures are hit rates, not timings, so it does not take the bench lock (it runs for half an
// hour); the wall times it records are labelled with the load they ran under.
//   npm run build && nice -n 10 node dist/bench/exposure.js
//     [--work tmp/exposure] [--world-seed 1] [--tuning-seed 7] [--report-seed 20211229]
//     [--requests 2000] [--holdout-days 7] [--rows 800000] [--out docs/exposure]
// Then, on the same world and the auto models, the choices tried on the tuning seed only
// (docs/exposure-variants.md):
//   node dist/bench/exposure.js --variants [--out docs/exposure-variants]
// And the note again from docs/exposure.json: node dist/bench/exposure.js --render
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/index.js';
import type { CheckReport } from '../src/eval/index.js';
import { holdoutWindow } from '../src/eval/holdout.js';
import type { ModelCard } from '../src/ranking/onnx-model.js';
import { machineDetails } from './load-report.js';
import { repoRoot as root } from './service-process.js';

const { values: flags } = parseArgs({
  options: {
    work: { type: 'string', default: 'tmp/exposure' },
    'world-seed': { type: 'string', default: '1' },
    'tuning-seed': { type: 'string', default: '7' },
    'report-seed': { type: 'string', default: '20211229' },
    requests: { type: 'string', default: '2000' },
    'holdout-days': { type: 'string', default: '7' },
    rows: { type: 'string', default: '800000' },
    out: { type: 'string', default: 'docs/exposure' },
    variants: { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
  },
});
const work = path.resolve(root, flags.work);
const data = path.join(work, 'data');
const worldSeed = flags['world-seed'];
const seeds = { tuning: Number(flags['tuning-seed']), report: Number(flags['report-seed']) };
const holdoutDays = Number(flags['holdout-days']);
const rel = (p: string) => path.relative(root, p);

interface Run {
  command: string;
  stdout: string;
  stderr: string;
  code: number;
  seconds: number;
  load: number[];
}
const runs: Run[] = [];

/** One `feedrec` command as its own process; stderr is echoed and kept (the refusal's message). */
function feedrec(args: string[], expectFailure = false): Promise<Run> {
  const started = performance.now();
  const command = `feedrec ${args.join(' ')}`;
  console.error(`\n$ ${command}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/feedrec.js', ...args], {
      cwd: root,
      // The world lives in a PGlite folder of its own, whatever DATABASE_URL the shell has.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.once('exit', (code) => {
      const run = {
        command,
        stdout,
        stderr,
        code: code ?? -1,
        seconds: (performance.now() - started) / 1000,
        load: os.loadavg().map((v) => Math.round(v * 100) / 100),
      };
      runs.push(run);
      if ((code === 0) === !expectFailure) resolve(run);
      else
        reject(
          new Error(`${command} exited with ${code}${expectFailure ? ' (a refusal was expected)' : ''}`),
        );
    });
  });
}

/** The first held-out day: `--until` for models a hold-out check will accept. */
async function firstHeldOutDay(): Promise<string> {
  const db = await openDatabase({ dataDir: data });
  try {
    const [r] = await db.query<{ hi: string }>(
      `select (extract(epoch from max("timestamp")) * 1000)::bigint hi from feed_data`,
    );
    return holdoutWindow(Number(r!.hi), holdoutDays).start.slice(0, 10);
  } finally {
    await db.close();
  }
}

if (flags.render) {
  // The note again from the results of a run (after a change of wording, without hours of work).
  const out = path.resolve(root, flags.out);
  writeFileSync(`${out}.md`, render(JSON.parse(readFileSync(`${out}.json`, 'utf8')) as Report));
  console.error(`wrote ${rel(out)}.md from its .json`);
  process.exit(0);
}

const data0 = ['--data-dir', rel(data)];
const reusedWorld = existsSync(path.join(data, 'PG_VERSION'));
if (!reusedWorld) {
  await feedrec([
    'world',
    '--scale',
    'demo',
    '--seed',
    worldSeed,
    '--exposure',
    'taste',
    ...data0,
    '--no-progress',
  ]);
  await feedrec(['features', ...data0]);
} else console.error(`reusing the world in ${rel(data)}`);
const until = await firstHeldOutDay();
if (flags.variants) await variants();

interface Trained {
  target: string;
  modelsDir: string;
  summary: { rows: number; positives: number; target: string; validFrom: string; wallSeconds: number };
  cards: Record<'control' | 'test', ModelCard>;
  checks: Partial<Record<keyof typeof seeds, CheckReport>>;
}

const trained: Trained[] = [];
for (const target of ['auto', 'view']) {
  const modelsDir = path.join(work, `models-${target}`);
  const run = await feedrec([
    'train',
    ...data0,
    '--models-dir',
    rel(modelsDir),
    '--until',
    until,
    '--target',
    target,
    '--rows',
    flags.rows,
    '--version',
    'v1',
  ]);
  const card = (name: string) =>
    JSON.parse(readFileSync(path.join(modelsDir, name, 'v1', 'meta.json'), 'utf8')) as ModelCard;
  trained.push({
    target,
    modelsDir,
    summary: JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Trained['summary'],
    cards: { control: card('control'), test: card('test') },
    checks: {},
  });
}

const check = (t: Trained, seed: number, extra: string[] = [], expectFailure = false) =>
  feedrec(
    [
      'check',
      ...data0,
      '--models-dir',
      rel(t.modelsDir),
      '--holdout',
      '--holdout-days',
      String(holdoutDays),
      '--seed',
      String(seed),
      '--requests',
      flags.requests,
      '--policies',
      'random,popular,control,test',
      '--json',
      ...extra,
    ],
    expectFailure,
  );
for (const t of trained)
  for (const [which, seed] of Object.entries(seeds) as [keyof typeof seeds, number][])
    t.checks[which] = JSON.parse((await check(t, seed)).stdout) as CheckReport;

// The refusal: one more held-out day than the models were trained for overlaps their window.
const auto = trained[0]!;
// The same check twice: refused as it stands, scored with --allow-overlap.
const overlapping = [
  'check',
  ...data0,
  '--models-dir',
  rel(auto.modelsDir),
  '--holdout',
  '--holdout-days',
  String(holdoutDays + 1),
  '--policies',
  'popular,test',
  '--requests',
  '200',
];
const refused = await feedrec(overlapping, true);
const refusal = refused.stderr
  .split('\n')
  .find((l) => /overlaps the held-out days/.test(l))
  ?.trim();
if (!refusal) throw new Error('the overlapping model was not refused with the expected message');
const overridden = JSON.parse(
  (await feedrec([...overlapping, '--allow-overlap', '--json'])).stdout,
) as CheckReport;

// ---- the note ----
const report: Report = {
  generated: new Date().toISOString(),
  machine: machineDetails(),
  world: { scale: 'demo', seed: Number(worldSeed), exposure: 'taste' },
  seeds,
  requests: Number(flags.requests),
  holdoutDays,
  until,
  work: flags.work,
  out: flags.out,
  reusedWorld,
  trained: trained.map((t) => ({
    target: t.target,
    summary: t.summary,
    cards: {
      control: slimCard(t.cards.control),
      test: slimCard(t.cards.test),
    },
    checks: t.checks,
  })),
  refusal,
  overridden: overridden.policies,
  runs: runs.map(({ command, code, seconds, load }) => ({ command, code, seconds, load })),
};
const out = path.resolve(root, flags.out);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(`${out}.json`, JSON.stringify(report, null, 2) + '\n');
writeFileSync(`${out}.md`, render(report));
console.error(`wrote ${rel(out)}.md and .json`);

/**
 * Choices tried on the tuning seed, against the auto models of the main run: a shorter or
 * longer look-ahead, more negatives, more candidates. Writes <out>.md/.json and exits.
 */
async function variants(): Promise<never> {
  const autoDir = path.join(work, 'models-auto');
  if (!existsSync(path.join(autoDir, 'test', 'v1', 'meta.json')))
    throw new Error(`run without --variants first: ${rel(autoDir)} holds no test model`);
  const score = async (name: string, modelsDir: string, extra: string[] = []) => {
    const r = JSON.parse(
      (
        await feedrec([
          'check',
          ...data0,
          '--models-dir',
          rel(modelsDir),
          '--holdout',
          '--holdout-days',
          String(holdoutDays),
          '--seed',
          String(seeds.tuning),
          '--requests',
          flags.requests,
          '--policies',
          'popular,test',
          '--json',
          ...extra,
        ])
      ).stdout,
    ) as CheckReport;
    const card = JSON.parse(
      readFileSync(path.join(modelsDir, 'test', 'v1', 'meta.json'), 'utf8'),
    ) as ModelCard;
    return { name, report: r, card, extra };
  };
  const rows = [await score('auto models (7 days, 20 negatives), 150 candidates', autoDir)];
  rows.push(await score('auto models, 300 candidates', autoDir, ['--candidates', '300']));
  for (const [name, args] of [
    ['--target-days 3', ['--target-days', '3']],
    ['--target-days 14', ['--target-days', '14']],
    ['--negatives 50', ['--negatives', '50']],
  ] as const) {
    const dir = path.join(work, `models-variant-${args.join('').replace(/-/g, '')}`);
    await feedrec([
      'train',
      ...data0,
      '--models-dir',
      rel(dir),
      '--until',
      until,
      '--target',
      'window',
      ...args,
      '--rows',
      flags.rows,
      '--models',
      'test',
      '--version',
      'v1',
    ]);
    rows.push(await score(name, dir));
  }
  const f3 = (x: number) => x.toFixed(3);
  const out = path.resolve(root, flags.out === 'docs/exposure' ? 'docs/exposure-variants' : flags.out);
  const lines = [
    '# Logs where users choose: choices tried on the tuning seed',
    '',
    `Written by \`bench/exposure.ts --variants\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; shared machine, ` +
      `load average ${machineDetails().loadAvg.join(' / ')} when written. World: demo, seed ${worldSeed}, taste exposure; models trained with ` +
      `\`--until ${until}\`; hold-out check on the tuning checker seed ${seeds.tuning} only (${flags.requests} requests), test model only. ` +
      'The reporting seed is in `docs/exposure.md`.',
    '',
    '| variant | test | popular | test − popular | test AUC / trees |',
    '|---|--:|--:|--:|--:|',
    ...rows.map((r) => {
      const t = r.report.policies.test!;
      const p = r.report.policies.popular!;
      return `| ${r.name} | ${f3(t.hitrate)} (${f3(t.ci[0])} – ${f3(t.ci[1])}) | ${f3(p.hitrate)} | ${f3(t.hitrate - p.hitrate)} | ${f3(r.card.validation.auc)} / ${r.card.tree_count} |`;
    }),
    '',
    '```bash',
    ...runs.map((r) => `${r.command}   # ${Math.round(r.seconds)} s, load ${r.load[0]}`),
    '```',
    '',
  ];
  writeFileSync(
    `${out}.json`,
    JSON.stringify(
      {
        generated: new Date().toISOString(),
        machine: machineDetails(),
        seeds: { tuning: seeds.tuning },
        until,
        variants: rows.map((r) => ({
          name: r.name,
          extra: r.extra,
          policies: r.report.policies,
          target: r.card.target,
        })),
        runs: runs.map(({ command, code, seconds, load }) => ({ command, code, seconds, load })),
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(`${out}.md`, lines.join('\n'));
  console.error(`wrote ${rel(out)}.md and .json`);
  process.exit(0);
}

function slimCard(c: ModelCard) {
  return { target: c.target, window: c.window, auc: c.validation.auc, trees: c.tree_count };
}

interface Report {
  generated: string;
  machine: ReturnType<typeof machineDetails>;
  world: { scale: string; seed: number; exposure: string };
  seeds: { tuning: number; report: number };
  requests: number;
  holdoutDays: number;
  until: string;
  /** --work (absent in the first run's JSON, which used the default). */
  work?: string;
  out?: string;
  /** The world and its features came from an earlier run in the same --work folder. */
  reusedWorld?: boolean;
  trained: {
    target: string;
    summary: Trained['summary'];
    cards: Record<'control' | 'test', ReturnType<typeof slimCard>>;
    checks: Trained['checks'];
  }[];
  refusal: string;
  overridden: CheckReport['policies'];
  runs: Omit<Run, 'stdout' | 'stderr'>[];
}

/** docs/exposure.md from the report (also `--render`: again from docs/exposure.json). */
function render(report: Report): string {
  const f3 = (x: number) => x.toFixed(3);
  const score = (r: CheckReport | undefined, p: string) => {
    const s = r?.policies[p];
    return s ? `${f3(s.hitrate)} (${f3(s.ci[0])} – ${f3(s.ci[1])})` : '–';
  };
  const diff = (r: CheckReport | undefined, p: string) =>
    r ? r.policies[p]!.hitrate - r.policies.popular!.hitrate : NaN;
  // Markdown tables need the bar of P(like | view) escaped.
  const targetText = (c: ReturnType<typeof slimCard>) => {
    const t: Record<string, unknown> = c.target ?? {};
    const how =
      t.chosen_by === 'log'
        ? `chosen from the log (${(100 * Number(t.view_concentration)).toFixed(1)} % of views on the 1 % most viewed posts)`
        : 'by flag';
    return t.kind === 'liked-within'
      ? `liked within ${String(t.days)} days, ${String(t.negatives)} negatives, ${how}`
      : `P(like \\| view), ${how}`;
  };
  const { seeds, holdoutDays, until } = report;
  // The choices tried on the tuning seed (--variants), when that run has written its results.
  const variantLines = (): string[] => {
    // They were tried on world seed 1 only; another world's note does not claim them.
    const file = path.resolve(root, 'docs/exposure-variants.json');
    if (report.world.seed !== 1 || !existsSync(file)) return [];
    const v = JSON.parse(readFileSync(file, 'utf8')) as {
      generated: string;
      variants: { name: string; policies: CheckReport['policies'] }[];
    };
    const [base, ...rest] = v.variants;
    const t = (x: (typeof v.variants)[number]) => x.policies.test!;
    return [
      `- Choices tried on the tuning seed ${seeds.tuning} (\`docs/exposure-variants.md\`, run ${v.generated.slice(0, 16).replace('T', ' ')} UTC with the code of that time), against ${f3(t(base!).hitrate)} ` +
        `(95 % interval ± ${f3((t(base!).ci[1] - t(base!).ci[0]) / 2)}) for the defaults: ` +
        rest.map((x) => `${x.name.replace('auto models, ', '')} ${f3(t(x).hitrate)}`).join(', ') +
        '. None is better by more than the noise, so the defaults stay.',
    ];
  };
  const auto = report.trained.find((t) => t.target === 'auto')!;
  const view = report.trained.find((t) => t.target === 'view')!;
  const card = auto.cards.test;
  const lines: string[] = [
    '# Logs where users choose what they view: the temporal protocol',
    '',
    `Written by \`bench/exposure.ts\` on ${report.generated.slice(0, 16).replace('T', ' ')} UTC (${report.machine.cpuCount} × ${report.machine.cpuModel}, Node ${report.machine.node}; ` +
      `shared machine, load average ${report.machine.loadAvg.join(' / ')} when written; every command's load is in the JSON next to this note).`,
    '',
    `World: demo scale, seed ${report.world.seed}, \`--exposure taste\` (users open what is popular or matches their hidden taste; ` +
      'P(like | view) is the same as in the random feed). Hold-out mode: requests fall in the last ' +
      `${holdoutDays} whole days of the log and a hit is a like of a returned post after the request within them; models are trained with ` +
      `\`--until ${until}\` (the first held-out day). ${report.requests} requests per checker seed. Checker seed ${seeds.tuning} is the tuning seed ` +
      `(every choice: target, its days and negatives, retrieval, candidates; \`docs/exposure-variants.md\`); ${seeds.report} is the reporting seed, used for nothing else.`,
    '',
    '| target | control | test | popular | random | test − popular | seed |',
    '|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const t of report.trained)
    for (const which of ['report', 'tuning'] as const) {
      const r = t.checks[which];
      lines.push(
        `| ${targetText(t.cards.test)} | ${score(r, 'control')} | ${score(r, 'test')} | ${score(r, 'popular')} | ${score(r, 'random')} | ${f3(diff(r, 'test'))} | ${which} ${seeds[which]} |`,
      );
    }
  const rep = auto.checks.report;
  lines.push(
    '',
    'Hitrate@5 of held-out likes with 95 % intervals; two-stage ranking as served (150 candidates; a ' +
      '"liked within" model retrieves the most liked posts, a P(like | view) model the best like rates).',
    '',
    `On the reporting seed the test model trained for the target the log calls for beats most-popular by ${f3(diff(rep, 'test'))} ` +
      `(${f3(rep!.policies.test!.hitrate)} against ${f3(rep!.policies.popular!.hitrate)}).`,
    '',
    '## What did not help',
    '',
    `- **P(like | view)** (\`--target view\`, what a random feed calls for): its test model loses to most-popular by ` +
      `${f3(-diff(view.checks.report, 'test'))} on the reporting seed although its validation AUC (${f3(view.cards.test.auc)}) is honest: ` +
      'it ranks posts by how likely a like is once opened, and the posts it prefers are mostly ones the user would not open.',
    `- **The control features** (no user history: profile, topic, post statistics) with the window target: ` +
      `${f3(diff(rep, 'control'))} against most-popular. Which posts a user opens follows their own taste, which only their history shows.`,
    ...variantLines(),
    '- Not tried: a view-propensity model multiplied by P(like | view); the window target already clears the bar.',
    '',
    '## The models',
    '',
    '| target | rows (positives) | validation from | control AUC / trees | test AUC / trees | train wall |',
    '|---|--:|---|--:|--:|--:|',
    ...report.trained.map(
      (t) =>
        `| ${t.target} → ${t.summary.target} | ${t.summary.rows.toLocaleString('en-US')} (${t.summary.positives.toLocaleString('en-US')}) | ${t.summary.validFrom.slice(0, 16)} | ${f3(t.cards.control.auc)} / ${t.cards.control.trees} | ${f3(t.cards.test.auc)} / ${t.cards.test.trees} | ${Math.round(t.summary.wallSeconds)} s |`,
    ),
    '',
    'AUCs are on different targets (a like after a view; a like within 7 days among all posts) and do not compare.',
    `The model card records the training window and the target, e.g. the auto test model's: window ` +
      `\`${JSON.stringify({ until: card.window?.until, first_event: card.window?.first_event, last_row: card.window?.last_row, valid_from: card.window?.valid_from })}\`, ` +
      `target \`${JSON.stringify(card.target)}\`.`,
    '',
    '## The hold-out checker refuses overlapping models',
    '',
    `With \`--holdout-days ${holdoutDays + 1}\` the held-out days start a day before the models' cut-off, and the check stops before any work:`,
    '',
    '```',
    report.refusal,
    '```',
    '',
    `\`--allow-overlap\` scores them anyway and marks them (test ${f3(report.overridden.test!.hitrate)} with \`overlap: ${String(report.overridden.test!.overlap)}\`, 200 requests, the default checker seed: a figure that counts likes the model was trained on).`,
    '',
    '## Commands',
    '',
    '```bash',
    'npm run build',
    `nice -n 10 node dist/bench/exposure.js --work ${report.work ?? 'tmp/exposure'} --world-seed ${report.world.seed} --tuning-seed ${seeds.tuning} --report-seed ${seeds.report}${report.out && report.out !== 'docs/exposure' ? ` --out ${report.out}` : ''}`,
    '# then docs/exposure-variants.md (world seed 1, tuning seed only): node dist/bench/exposure.js --variants',
    ...(report.reusedWorld
      ? [
          `# the world and features were reused from an earlier run in ${report.work ?? 'tmp/exposure'}: ` +
            `feedrec world --scale demo --seed ${report.world.seed} --exposure taste, then feedrec features`,
        ]
      : []),
    '# the main run is these commands, each as its own process:',
    ...report.runs.map(
      (r) =>
        `${r.command}   # ${Math.round(r.seconds)} s, load ${r.load[0]}${r.code ? `, exit ${r.code}` : ''}`,
    ),
    '```',
    '',
  );
  return lines.join('\n');
}
