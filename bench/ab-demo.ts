// The A/B experiment on the demo world, run exactly as the README says: `feedrec serve`, then
// `feedrec ab simulate`, then stop the service, then `feedrec ab report`, each as its own
// process on a copy of the embedded database. Then the same with a broken split (45 % test
// served while 50/50 is configured) for the sample-ratio check, and a headless-Chromium
// screenshot of the HTML report. Writes docs/experiment.{json,md} and docs/experiment-report.png.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/ab-demo.js --data-dir <demo PGlite folder>
//     [--visits 20000] [--broken-visits 6000] [--seed 1] [--port 8320]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatP, type ExperimentReport } from '../src/experiment/index.js';
import { machineDetails } from './load-report.js';
import { feedrec, repoRoot as root, startService } from './service-process.js';

const QA_TOKEN = 'ab-demo-qa-token';

interface Experiment {
  commands: string[];
  report: ExperimentReport;
  wallSeconds: number;
}

/** serve → simulate → stop → report, on a fresh copy of the template database. */
async function experiment(
  template: string,
  work: string,
  name: string,
  opts: {
    port: number;
    seed: number;
    visits: number;
    serveEnv?: NodeJS.ProcessEnv;
    reportArgs?: string[];
    html?: string;
  },
): Promise<Experiment> {
  const started = performance.now();
  const dir = path.join(work, name);
  cpSync(template, dir, { recursive: true });
  const run = path.join(work, `${name}-run.json`);
  const url = `http://127.0.0.1:${opts.port}`;
  const simulate = [
    'ab',
    'simulate',
    '--url',
    url,
    '--world',
    'demo:1',
    '--seed',
    String(opts.seed),
    '--visits',
    String(opts.visits),
    '--true-effect',
    '--out',
    run,
  ];
  const report = ['ab', 'report', '--data-dir', dir, '--run', run, '--json', ...(opts.reportArgs ?? [])];
  if (opts.html) report.push('--html', opts.html);
  const env = { FEEDREC_QA_TOKEN: QA_TOKEN, ...opts.serveEnv };
  process.stderr.write(`${name}: feedrec serve --data-dir ${dir}\n`);
  const svc = await startService({ port: opts.port, dataDir: dir, env, readyTimeoutMs: 300_000 });
  let code: number | null;
  try {
    process.stderr.write(`${name}: feedrec ${simulate.join(' ')}\n`);
    process.stderr.write(await feedrec(simulate, { FEEDREC_QA_TOKEN: QA_TOKEN }));
  } finally {
    await svc.stop();
    code = svc.child.exitCode;
  }
  if (code !== 0) throw new Error(`${name}: the service exited with ${code} on SIGTERM`);
  process.stderr.write(`${name}: feedrec ${report.join(' ')}\n`);
  const json = JSON.parse(await feedrec(report)) as ExperimentReport;
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return {
    commands: [
      `${envText} PORT=${opts.port} feedrec serve --data-dir D &`,
      `FEEDREC_QA_TOKEN=${QA_TOKEN} feedrec ${simulate.join(' ').replace(run, 'run.json')}`,
      'kill -TERM <serve pid>',
      `feedrec ${report.join(' ').replace(dir, 'D').replace(run, 'run.json')}`,
    ],
    report: json,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

function screenshot(html: string, png: string): void {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'feedrec-chromium-'));
  try {
    execFileSync(
      '/usr/bin/chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        `--screenshot=${png}`,
        '--window-size=1100,2350',
        `file://${html}`,
      ],
      { stdio: 'ignore', timeout: 120_000 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

const f4 = (x: number) => x.toFixed(4);
const ci = (c: [number, number]) => `${f4(c[0])} – ${f4(c[1])}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      visits: { type: 'string', default: '20000' },
      'broken-visits': { type: 'string', default: '6000' },
      seed: { type: 'string', default: '1' },
      port: { type: 'string', default: '8320' },
    },
  });
  if (!values['data-dir'])
    throw new Error('--data-dir: a PGlite folder with the demo world (seed 1) and its features');
  const port = Number(values.port);
  const seed = Number(values.seed);
  const docs = path.join(root, 'docs');
  const work = mkdtempSync(path.join(os.tmpdir(), 'feedrec-ab-demo-'));
  const html = path.join(work, 'experiment-report.html');
  try {
    const ab = await experiment(values['data-dir'], work, 'ab', {
      port,
      seed,
      visits: Number(values.visits),
      html,
    });
    screenshot(html, path.join(docs, 'experiment-report.png'));
    const broken = await experiment(values['data-dir'], work, 'broken-split', {
      port,
      seed: seed + 1,
      visits: Number(values['broken-visits']),
      serveEnv: { FEEDREC_AB_TEST_SHARE: '0.45' },
      reportArgs: ['--test-share', '0.5'],
    });
    const checker = JSON.parse(readFileSync(path.join(docs, 'checker.json'), 'utf8')) as {
      checker: { seed: number; requests: number };
      policies: Record<string, { hitrate: number; ci: [number, number] }>;
    };
    const result = {
      startedAt: new Date().toISOString(),
      machine: machineDetails(),
      ab,
      brokenSplit: broken,
      checker: {
        source: 'docs/checker.json (`feedrec check`, the same committed models, logged period)',
        seed: checker.checker.seed,
        requests: checker.checker.requests,
        control: checker.policies.control!.hitrate,
        test: checker.policies.test!.hitrate,
        difference: checker.policies.test!.hitrate - checker.policies.control!.hitrate,
      },
    };
    writeFileSync(path.join(docs, 'experiment.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(path.join(docs, 'experiment.md'), markdown(result));
    process.stderr.write('wrote docs/experiment.json, docs/experiment.md and docs/experiment-report.png\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function markdown(r: {
  startedAt: string;
  machine: ReturnType<typeof machineDetails>;
  ab: Experiment;
  brokenSplit: Experiment;
  checker: {
    seed: number;
    requests: number;
    control: number;
    test: number;
    difference: number;
    source: string;
  };
}): string {
  const a = r.ab.report;
  const b = r.brokenSplit.report;
  const te = a.simulation?.trueEffect;
  const m = r.machine;
  const agrees = (a.verdict.winner ?? 'none') === (r.checker.difference > 0 ? 'test' : 'control');
  return [
    '# A/B experiment on the demo world',
    '',
    `Run ${r.startedAt} with \`node dist/bench/ab-demo.js\` (${m.cpuCount} × ${m.cpuModel}, Node ${m.node}; a shared ` +
      `machine, load average ${m.loadAvg.join(' / ')} at the end: latencies are not the service's best).`,
    '',
    '## Control v1 against test v1',
    '',
    'Commands (each its own process, on a copy of the embedded database D of `feedrec world --scale demo --seed 1`):',
    '',
    '```bash',
    ...r.ab.commands,
    '```',
    '',
    `**${a.verdict.text}** The checker orders the models the same way: ${agrees ? 'agrees' : 'DISAGREES'}.`,
    '',
    '| | control | test | test − control | 95 % CI | p-value |',
    '|---|--:|--:|--:|---|--:|',
    `| Hitrate@5 per exposure (this experiment, sampled likes) | ${f4(a.groups.control.hitrate)} | ${f4(a.groups.test.hitrate)} | ${f4(a.difference)} | ${ci(a.differenceCi)} | ${formatP(a.pValue)} |`,
    `| the same, CUPED | ${f4(a.groups.control.cupedHitrate)} | ${f4(a.groups.test.cupedHitrate)} | ${f4(a.cuped.difference)} | ${ci(a.cuped.differenceCi)} | ${formatP(a.cuped.pValue)} |`,
    ...(te
      ? [
          `| world's true effect on the same visits (both models asked, expected hit from the ground truth) | ${f4(te.control)} | ${f4(te.test)} | ${f4(te.difference)} | ${ci(te.ci)} | inside the report's CI: ${te.insideInterval ? 'yes' : 'NO'} |`,
        ]
      : []),
    `| checker (${r.checker.requests} hidden requests over the logged period, seed ${r.checker.seed}) | ${f4(r.checker.control)} | ${f4(r.checker.test)} | ${f4(r.checker.difference)} | | |`,
    '',
    `Users ${a.groups.control.users} / ${a.groups.test.users}, exposures ${a.groups.control.exposures} / ${a.groups.test.exposures}; ` +
      `likes per user ${a.groups.control.likesPerUser.toFixed(3)} / ${a.groups.test.likesPerUser.toFixed(3)} ` +
      `(difference ${a.likesPerUser.difference.toFixed(3)}, ${a.likesPerUser.ci.map((x) => x.toFixed(3)).join(' – ')}). ` +
      `SRM p = ${formatP(a.srm.pValue)}. MDE ±${f4(a.mde.absolute)}. ` +
      `CUPED (pre-experiment like rate): Hitrate interval ${(100 * a.cuped.intervalNarrowing).toFixed(1)} % narrower, ` +
      `likes-per-user interval ${(100 * a.likesPerUser.intervalNarrowing).toFixed(1)} % narrower. ` +
      `Fallback answers ${a.groups.control.fallbacks} / ${a.groups.test.fallbacks}. Wall time ${r.ab.wallSeconds.toFixed(0)} s.`,
    '',
    'The experiment runs after the logged period (the world at its last day, users as often as they scrolled in the log), ' +
      'so its Hitrates and the models’ difference are larger than the checker’s, which draws users and times uniformly ' +
      'over the period; the world’s true effect on the experiment’s own visits is the figure its interval must cover.',
    '',
    '![the HTML report](experiment-report.png)',
    '',
    '## A broken split',
    '',
    'The service serves a 45 % test share while the report checks against the configured 50 %:',
    '',
    '```bash',
    ...r.brokenSplit.commands,
    '```',
    '',
    `Users ${b.srm.observed.control} control / ${b.srm.observed.test} test (expected ${b.srm.expected.control!.toFixed(0)} each): ` +
      `χ² = ${b.srm.chiSquare.toFixed(1)}, p = ${formatP(b.srm.pValue)} → ${b.srm.mismatch ? '**flagged**' : 'NOT flagged'}. ` +
      `Verdict: ${b.verdict.text}`,
    '',
  ].join('\n');
}

main().catch((err: Error) => {
  process.stderr.write(`ab-demo: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
