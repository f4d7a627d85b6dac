// A/A experiments: both groups served by the same (control) model, so every "significant"
// difference is a false positive. Per seed: the experiment rows of the last run are removed, the
// service starts with a fresh salt (a new random split), simulated users visit it, it stops, and
// the report's user-level test is read. The share of seeds with p < 0.05 should be about 5 %.
// Each seed's data is also re-split by other salts (the same users and likes, other halves), and
// the naive exposure-level test is computed on the same data to show what the user-level one
// protects against. Writes bench/results/ab-aa.{json,md}.
//
//   npm run build && node dist/bench/ab-aa.js --data-dir <demo PGlite folder> [--seeds 100]
//     [--visits 1500] [--days 7] [--resplits 40] [--out bench/results/ab-aa]
//
// The folder is copied once; it keeps its logged period, only the experiment rows come and go.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { assignGroup } from '../src/ab/index.js';
import { loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/db/index.js';
import {
  buildReport,
  compare,
  proportionCi,
  readExperimentData,
  serviceSink,
  simulateExperiment,
  type ExperimentData,
} from '../src/experiment/index.js';
import { startServer } from '../src/http/index.js';
import { utcText } from '../src/live/index.js';
import { createJsonLogger } from '../src/log/index.js';
import { buildService } from '../src/serve/index.js';
import { createWorld, EXPERIMENT_START_MS, readWorldSpec, regeneratedLikes } from '../src/world/index.js';
import { machineDetails } from './load-report.js';
import { repoRoot as root } from './service-process.js';

interface SeedResult {
  seed: number;
  users: [number, number];
  exposures: [number, number];
  difference: number;
  pValue: number;
  cupedPValue: number;
  likesPValue: number;
  naivePValue: number;
  srmPValue: number;
  /** p-values of the same data split by other salts. */
  resplitP: number[];
  seconds: number;
}

const ALPHA = 0.05;

/** Hitrate compared as if every exposure were an independent trial: the mistake to avoid. */
function naiveP(hits: [number, number], n: [number, number]): number {
  const est = (k: number, m: number) => {
    const p = k / m;
    return { value: p, se: Math.sqrt((p * (1 - p)) / m), ci: [0, 0] as [number, number], n: m };
  };
  return compare(est(hits[0], n[0]), est(hits[1], n[1])).pValue;
}

function resplit(data: ExperimentData, salt: string): ExperimentData {
  return { ...data, userDays: data.userDays.map((d) => ({ ...d, group: assignGroup(salt, d.userId, 0.5) })) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      seeds: { type: 'string', default: '100' },
      'first-seed': { type: 'string', default: '1' },
      visits: { type: 'string', default: '1500' },
      days: { type: 'string', default: '7' },
      resplits: { type: 'string', default: '40' },
      out: { type: 'string', default: path.join(root, 'bench', 'results', 'ab-aa') },
    },
  });
  if (!values['data-dir']) throw new Error('--data-dir: a PGlite folder with a world and its features');
  const seeds = Number(values.seeds);
  const first = Number(values['first-seed']);
  const visits = Number(values.visits);
  const days = Number(values.days);
  const resplits = Number(values.resplits);
  const out = values.out!;
  // Results so far are kept, so a long run can be resumed (--first-seed) or extended.
  const results: SeedResult[] = existsSync(`${out}.json`)
    ? (JSON.parse(readFileSync(`${out}.json`, 'utf8')) as { seeds: SeedResult[] }).seeds.filter(
        (s) => s.seed < first,
      )
    : [];

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-aa-'));
  process.stderr.write(`copying ${values['data-dir']} to ${dataDir}…\n`);
  cpSync(values['data-dir'], dataDir, { recursive: true });
  const logger = createJsonLogger('warn', (line) => process.stderr.write(line));
  try {
    const setup = await openDatabase({ dataDir });
    const spec = await readWorldSpec(setup);
    await setup.close();
    if (!spec) throw new Error('the folder holds no simulated world');
    const world = createWorld(spec);
    for (let seed = first; seed < first + seeds; seed++) {
      const started = performance.now();
      const db = await openDatabase({ dataDir });
      const live = await db.query<{ seq: number | null }>(
        `select (value->>'changesSeq')::int seq from feature_meta where key = 'live'`,
      );
      await db.exec(
        `delete from exposures; delete from feed_data where "timestamp" >= '${utcText(EXPERIMENT_START_MS)}';
         delete from feed_changes where seq > ${live[0]?.seq ?? 0};`,
      );
      await db.close();

      const cfg = loadConfig(
        {},
        {
          dataDir,
          modelsDir: path.join(root, 'models'),
          port: 0,
          host: '127.0.0.1',
          logLevel: 'warn',
          ab: { salt: `aa-${seed}`, testModel: 'control' },
        },
      );
      const svc = await buildService(cfg, { logger });
      const server = await startServer(svc.app, cfg, { signals: [] });
      const url = `http://127.0.0.1:${server.port}`;
      await simulateExperiment({
        url,
        world,
        spec,
        seed: 10_000 + seed,
        visits,
        days,
        startMs: EXPERIMENT_START_MS,
        concurrency: 8,
        maxSeconds: 3_600,
        minRevisitMs: 1_000,
        sink: serviceSink(new URL(url)),
        history: async (ids) => new Map(ids.map((id) => [id, regeneratedLikes(world, world.userIndex(id))])),
      });
      // Drains, writes the last exposures, stops the workers; the database stays open to read.
      await server.close();
      const data = await readExperimentData(svc.db, { hitWindowMinutes: 60 });
      await svc.db.close();

      const opts = { testShare: 0.5, hitWindowMinutes: 60 };
      const r = buildReport(data, opts);
      const c = r.groups.control;
      const t = r.groups.test;
      const result: SeedResult = {
        seed,
        users: [c.users, t.users],
        exposures: [c.exposures, t.exposures],
        difference: r.difference,
        pValue: r.pValue,
        cupedPValue: r.cuped.pValue,
        likesPValue: r.likesPerUser.pValue,
        naivePValue: naiveP([c.hits, t.hits], [c.exposures, t.exposures]),
        srmPValue: r.srm.pValue,
        resplitP: Array.from(
          { length: resplits },
          (_, k) => buildReport(resplit(data, `aa-${seed}-re${k}`), opts).pValue,
        ),
        seconds: (performance.now() - started) / 1000,
      };
      results.push(result);
      const rejected = results.filter((x) => x.pValue < ALPHA).length;
      process.stderr.write(
        `seed ${seed}: p = ${result.pValue.toFixed(3)} (naive ${result.naivePValue.toFixed(3)}), ` +
          `${rejected}/${results.length} significant so far, ${result.seconds.toFixed(0)} s\n`,
      );
      write(out, results, { visits, days, resplits, world: `${spec.scale}:${spec.seed}` });
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function rate(results: SeedResult[], p: (s: SeedResult) => number) {
  const k = results.filter((s) => p(s) < ALPHA).length;
  return { significant: k, runs: results.length, ...proportionCi(k, results.length) };
}

function write(
  out: string,
  seeds: SeedResult[],
  setup: { visits: number; days: number; resplits: number; world: string },
): void {
  // Re-splits of one seed share its data: their rate's interval treats each seed as one unit.
  const perSeed = seeds.map(
    (s) => s.resplitP.filter((p) => p < ALPHA).length / Math.max(1, s.resplitP.length),
  );
  const mean = perSeed.reduce((a, b) => a + b, 0) / Math.max(1, perSeed.length);
  const sd = Math.sqrt(perSeed.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, perSeed.length - 1));
  const half = (1.96 * sd) / Math.sqrt(Math.max(1, perSeed.length));
  const summary = {
    userLevel: rate(seeds, (s) => s.pValue),
    cuped: rate(seeds, (s) => s.cupedPValue),
    likesPerUser: rate(seeds, (s) => s.likesPValue),
    naiveExposureLevel: rate(seeds, (s) => s.naivePValue),
    srmAlarms: {
      alarms: seeds.filter((s) => s.srmPValue < 0.001).length,
      runs: seeds.length,
      threshold: 0.001,
    },
    resplits: {
      splits: perSeed.length * setup.resplits,
      rate: mean,
      ci: [Math.max(0, mean - half), mean + half] as [number, number],
    },
  };
  const report = { startedAt: new Date().toISOString(), machine: machineDetails(), setup, summary, seeds };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(`${out}.json`, JSON.stringify(report, null, 2) + '\n');
  const pc = (x: number) => `${(100 * x).toFixed(1)} %`;
  const row = (name: string, r: { significant: number; runs: number; rate: number; ci: [number, number] }) =>
    `| ${name} | ${r.significant} / ${r.runs} | ${pc(r.rate)} | ${pc(r.ci[0])} – ${pc(r.ci[1])} |`;
  const m = report.machine;
  const md = [
    '# A/A experiments: the false-positive rate of the report',
    '',
    `Run ${report.startedAt} with \`node dist/bench/ab-aa.js ${process.argv.slice(2).join(' ')}\` (${m.cpuCount} × ${m.cpuModel}, Node ${m.node}; shared machine). ` +
      `World ${setup.world}; per seed ${setup.visits} simulated visits over ${setup.days} days after the logged period, ` +
      'both groups served by the control model, a fresh salt (split) per seed, the service as its own generation ' +
      'each time, hits = likes of a shown post within 60 min.',
    '',
    `| test at α = ${ALPHA} | significant / runs | rate | 95 % CI (Wilson) |`,
    '|---|--:|--:|---|',
    row('Hitrate@5, user-level delta method (the report’s test)', summary.userLevel),
    row('Hitrate@5, CUPED', summary.cuped),
    row('likes per user', summary.likesPerUser),
    row('Hitrate@5, exposures as independent trials (naive, for contrast)', summary.naiveExposureLevel),
    `| sample-ratio alarm (p < 0.001) on a correct split | ${summary.srmAlarms.alarms} / ${summary.srmAlarms.runs} | | |`,
    '',
    `Re-splits: each seed's data divided again by ${setup.resplits} other salts (${summary.resplits.splits} splits): ` +
      `${pc(summary.resplits.rate)} significant (95 % CI ${pc(summary.resplits.ci[0])} – ${pc(summary.resplits.ci[1])}, seeds as units).`,
  ];
  writeFileSync(`${out}.md`, md.join('\n') + '\n');
}

main().catch((err: Error) => {
  process.stderr.write(`ab-aa: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
