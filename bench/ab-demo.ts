// The A/B experiment on the demo world, run exactly as the README says: `feedrec serve`, then
// `feedrec ab simulate`, then stop the service, then `feedrec ab report`, each as its own
// process on a copy of the embedded database. Then the same with a broken split (45 % test
// served while 50/50 is configured) for the sample-ratio check, and a headless-Chromium
// screenshot of the HTML report. The checker runs first on the same models (whatever models/
// holds now), so the verdict is compared with the ordering of exactly the models served.
// Writes docs/experiments/ab-demo.{json,md}, the report page docs/experiments/ab-demo-report.html
// and its picture docs/screenshots/experiment-report.png.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/ab-demo.js --data-dir <demo PGlite folder>
//     [--visits 20000] [--broken-visits 6000] [--seed 1] [--port 8320] [--check-requests 2000]
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatP, pText, modelList, type ExperimentReport } from '../src/experiment/index.js';
import { launchChromium, screenshotFile } from './browser.js';
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
    world: string;
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
    opts.world,
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
      `feedrec ${report
        .join(' ')
        .replace(dir, 'D')
        .replace(run, 'run.json')
        .replace(opts.html ?? '\0', 'report.html')}`,
    ],
    report: json,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

interface CheckerJson {
  checker: { seed: number; requests: number };
  world: { scale: string; seed: number };
  policies: Record<string, { hitrate: number; ci: [number, number]; model?: string }>;
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
      'check-requests': { type: 'string', default: '2000' },
    },
  });
  if (!values['data-dir'])
    throw new Error('--data-dir: a PGlite folder with the demo world (seed 1) and its features');
  const port = Number(values.port);
  const seed = Number(values.seed);
  const docs = path.join(root, 'docs', 'experiments');
  const pictures = path.join(root, 'docs', 'screenshots');
  mkdirSync(docs, { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), 'feedrec-ab-demo-'));
  const html = path.join(work, 'experiment-report.html');
  try {
    // The checker on the models the experiment serves, before the experiment adds rows.
    const checkDir = path.join(work, 'check');
    cpSync(values['data-dir'], checkDir, { recursive: true });
    const checkArgs = [
      'check',
      '--policies',
      'control,test',
      '--requests',
      values['check-requests']!,
      '--json',
    ];
    process.stderr.write(`checker: feedrec ${checkArgs.join(' ')}\n`);
    const checker = JSON.parse(await feedrec([...checkArgs, '--data-dir', checkDir])) as CheckerJson;
    rmSync(checkDir, { recursive: true, force: true });
    const world = `${checker.world.scale}:${checker.world.seed}`;

    const ab = await experiment(values['data-dir'], work, 'ab', {
      port,
      world,
      seed,
      visits: Number(values.visits),
      html,
    });
    copyFileSync(html, path.join(docs, 'ab-demo-report.html'));
    const broken = await experiment(values['data-dir'], work, 'broken-split', {
      port,
      world,
      seed: seed + 1,
      visits: Number(values['broken-visits']),
      serveEnv: { FEEDREC_AB_TEST_SHARE: '0.45' },
      reportArgs: ['--test-share', '0.5'],
    });
    const d = checker.policies.test!.hitrate - checker.policies.control!.hitrate;
    const result = {
      startedAt: new Date().toISOString(),
      machine: machineDetails(),
      ab,
      brokenSplit: broken,
      checker: {
        command: `feedrec ${checkArgs.join(' ')} --data-dir D`,
        seed: checker.checker.seed,
        requests: checker.checker.requests,
        world,
        models: { control: checker.policies.control!.model, test: checker.policies.test!.model },
        control: checker.policies.control!.hitrate,
        controlCi: checker.policies.control!.ci,
        test: checker.policies.test!.hitrate,
        testCi: checker.policies.test!.ci,
        difference: d,
        insideReportInterval: d >= ab.report.differenceCi[0] && d <= ab.report.differenceCi[1],
      },
    };
    writeFileSync(path.join(docs, 'ab-demo.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(path.join(docs, 'ab-demo.md'), markdown(result));
    process.stderr.write('wrote docs/experiments/ab-demo.{json,md} and ab-demo-report.html\n');
    // Last, so a browser problem costs only the picture (`npm run screenshots --
    // --experiment-html docs/experiments/ab-demo-report.html` takes it again).
    const browser = await launchChromium();
    const outside: string[] = [];
    try {
      await screenshotFile(browser, html, path.join(pictures, 'experiment-report.png'), outside);
    } finally {
      await browser.close();
    }
    if (outside.length > 0) throw new Error(`the report page asked for outside URLs: ${outside.join(', ')}`);
    process.stderr.write('wrote docs/screenshots/experiment-report.png\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface DemoResult {
  startedAt: string;
  machine: ReturnType<typeof machineDetails>;
  ab: Experiment;
  brokenSplit: Experiment;
  checker: {
    command: string;
    seed: number;
    requests: number;
    world: string;
    models: { control?: string; test?: string };
    control: number;
    controlCi: [number, number];
    test: number;
    testCi: [number, number];
    difference: number;
    insideReportInterval: boolean;
  };
}

function markdown(r: DemoResult): string {
  const a = r.ab.report;
  const b = r.brokenSplit.report;
  const te = a.simulation?.trueEffect;
  const m = r.machine;
  const ck = r.checker;
  const agrees = (a.verdict.winner ?? 'none') === (ck.difference > 0 ? 'test' : 'control');
  const served = (g: 'control' | 'test') => modelList(a.groups[g].models);
  return [
    '# A/B experiment on the demo world',
    '',
    `Run ${r.startedAt} with \`node dist/bench/ab-demo.js\` (${m.cpuCount} × ${m.cpuModel}, Node ${m.node}; a shared ` +
      `machine, load average ${m.loadAvg.map((x) => x.toFixed(2)).join(' / ')} at the end: latencies are not the service's best).`,
    '',
    `## ${ck.models.control ?? 'control'} against ${ck.models.test ?? 'test'}`,
    '',
    `Models served: control ${served('control')}; test ${served('test')}.`,
    '',
    `Commands (each its own process, on a copy of the embedded database D of \`feedrec world --scale ${ck.world.split(':')[0]} --seed ${ck.world.split(':')[1]}\` + \`feedrec features\`):`,
    '',
    '```bash',
    ...r.ab.commands,
    '```',
    '',
    `**${a.verdict.text}** The checker orders the same models the same way: ${agrees ? 'agrees' : 'DISAGREES'}.`,
    '',
    '| | control | test | test − control | 95 % CI | p-value |',
    '|---|--:|--:|--:|---|--:|',
    `| Hitrate@5 per exposure (this experiment, sampled likes; user-level delta method) | ${f4(a.groups.control.hitrate)} | ${f4(a.groups.test.hitrate)} | ${f4(a.difference)} | ${ci(a.differenceCi)} | ${formatP(a.pValue)} |`,
    `| the same, CUPED | ${f4(a.groups.control.cupedHitrate)} | ${f4(a.groups.test.cupedHitrate)} | ${f4(a.cuped.difference)} | ${ci(a.cuped.differenceCi)} | ${formatP(a.cuped.pValue)} |`,
    ...(te
      ? [
          `| world's true effect on the same visits (both models asked, expected hit from the ground truth, as the checker scores) | ${f4(te.control)} | ${f4(te.test)} | ${f4(te.difference)} | ${ci(te.ci)} | inside the report's CI: ${te.insideInterval ? '**yes**' : '**NO**'} |`,
        ]
      : []),
    `| checker (\`${ck.command}\`: ${ck.requests} hidden requests over the logged period, seed ${ck.seed}) | ${f4(ck.control)} | ${f4(ck.test)} | ${f4(ck.difference)} | | inside the report's CI: ${ck.insideReportInterval ? '**yes**' : '**no**'} |`,
    '',
    `Users ${a.groups.control.users} / ${a.groups.test.users}, exposures ${a.groups.control.exposures} / ${a.groups.test.exposures}; ` +
      `likes per user ${a.groups.control.likesPerUser.toFixed(3)} / ${a.groups.test.likesPerUser.toFixed(3)} ` +
      `(difference ${a.likesPerUser.difference.toFixed(3)}, ${a.likesPerUser.ci.map((x) => x.toFixed(3)).join(' – ')}). ` +
      `SRM ${pText(a.srm.pValue)}. MDE ±${f4(a.mde.absolute)}. ` +
      `CUPED (pre-experiment like rate): Hitrate interval ${(100 * a.cuped.intervalNarrowing).toFixed(1)} % narrower ` +
      `(variance explained ${(100 * a.cuped.varianceReduction).toFixed(1)} %), ` +
      `likes-per-user interval ${(100 * a.likesPerUser.intervalNarrowing).toFixed(1)} % narrower. ` +
      `Fallback answers ${a.groups.control.fallbacks} / ${a.groups.test.fallbacks}. Wall time ${r.ab.wallSeconds.toFixed(0)} s.`,
    '',
    'The experiment runs after the logged period (the world at its last day, users as often as they scrolled in the log), ' +
      'so its Hitrates and the models’ difference need not equal the checker’s, which draws users and times uniformly ' +
      'over the logged period. The figure the report’s interval must cover is the world’s true effect on the ' +
      'experiment’s own visits: the checker’s scoring (expected hit from the ground truth) of both models on the same requests.',
    '',
    '![the HTML report](../screenshots/experiment-report.png)',
    '',
    'The page itself: [ab-demo-report.html](ab-demo-report.html) (self-contained, opens without a server).',
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
      `χ² = ${b.srm.chiSquare.toFixed(1)}, ${pText(b.srm.pValue)} → ${b.srm.mismatch ? '**flagged**' : 'NOT flagged'}. ` +
      `Verdict: ${b.verdict.text}`,
    '',
  ].join('\n');
}

main().catch((err: Error) => {
  process.stderr.write(`ab-demo: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
