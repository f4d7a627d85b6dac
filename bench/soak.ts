// The soak: starts `feedrec serve` on the demo world, measures the capacity (model-ranked
// answers/s at 64 connections, scenario phase closed-64), then runs open loop at 70 % of it
// (scenario phase soak-70, 30 minutes) in 10-second slices, sampling the server's RSS and the p99
// of each slice. Reports the least-squares RSS slope (MB/hour) and the p99 drift, and writes
// bench/results/soak.json and .md.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/soak.js [--duration 30m]
//     [--data-dir data] [--pg-url URL] [--port 8220] [--out bench/results/soak] [--label TEXT]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './load.js';
import { machineDetails, readRss } from './load-report.js';
import { durationMs, readScenario } from './load-scenario.js';
import { soakSummary, type SoakSample } from './load-stats.js';
import { readUserIds, repoRoot, startService } from './service-process.js';

const SLICE_S = 10;
const r2 = (v: number) => Math.round(v * 100) / 100;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      'data-dir': { type: 'string', default: path.join(repoRoot, 'data') },
      'pg-url': { type: 'string' },
      port: { type: 'string', default: '8220' },
      out: { type: 'string', default: path.join(repoRoot, 'bench', 'results', 'soak') },
      label: { type: 'string' },
    },
  });
  const sc = readScenario(path.join(repoRoot, 'k6', 'scenario.json'));
  const [capacityPhase, soakPhase] = sc.sets!.soak!;
  const soakMs = durationMs(values.duration ?? sc.phases.find((p) => p.name === soakPhase)!.duration);
  const slices = Math.max(1, Math.round(soakMs / (SLICE_S * 1000)));
  const users = await readUserIds(values['data-dir']!, values['pg-url']);
  const svc = await startService({
    port: Number(values.port),
    dataDir: values['data-dir']!,
    pgUrl: values['pg-url'],
  });
  const pid = svc.child.pid!;
  const samples: SoakSample[] = [];
  let soakStart = 0;
  try {
    const load = await runLoad({
      url: svc.url,
      users,
      scenarioFile: path.join(repoRoot, 'k6', 'scenario.json'),
      // A short warm-up first: a cold service (JIT, admission's first measurements) measured a
      // capacity far below its own, and 70 % of that was no soak at 70 %.
      phases: ['warmup-64', capacityPhase!, ...Array<string>(slices).fill(soakPhase!)],
      duration: `${SLICE_S}s`,
      gapSeconds: 0,
      label: values.label ?? 'soak',
      log: (l) => process.stderr.write(`soak: ${l}\n`),
      onPhase: async (event, _p, i, p) => {
        if (i <= 1) return;
        if (event === 'before' && i === 2) soakStart = performance.now();
        if (event !== 'after' || !p) return;
        samples.push({
          t: Math.round((performance.now() - soakStart) / 100) / 10,
          rssMb: r2(readRss(pid)?.rssMb ?? NaN),
          p99Ms: p.latencyMs.p99,
          answersPerS: p.throughputRps,
          modelPerS: p.answers?.modelRps ?? 0,
          errors: p.errors + p.dropped,
          load1: r2(os.loadavg()[0]!),
        });
      },
    });
    const summary = soakSummary(samples);
    const report = {
      startedAt: load.startedAt,
      command: `node dist/bench/soak.js ${process.argv.slice(2).join(' ')}`.trim(),
      label: values.label,
      database: values['pg-url'] ? 'postgres' : 'pglite',
      users: users.length,
      machine: machineDetails(),
      startupSeconds: r2(svc.startupSeconds),
      capacityRps: load.capacityRps,
      rateRps: load.phases[2]?.targetRps,
      soakSeconds: samples.at(-1)?.t ?? 0,
      summary,
      samples,
    };
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(`${values.out}.json`, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(`${values.out}.md`, markdown(report));
    process.stderr.write(
      `soak: RSS slope ${summary.rssSlopeMbPerHour} MB/h, p99 ${summary.p99FirstThirdMs} → ${summary.p99LastThirdMs} ms; wrote ${values.out}.md\n`,
    );
  } finally {
    await svc.stop();
  }
}

function markdown(r: {
  startedAt: string;
  command: string;
  label?: string;
  machine: ReturnType<typeof machineDetails>;
  users: number;
  database: string;
  capacityRps?: number;
  rateRps?: number;
  soakSeconds: number;
  summary: ReturnType<typeof soakSummary>;
  samples: SoakSample[];
}): string {
  const m = r.machine;
  const s = r.summary;
  const lines = [
    `# Soak${r.label ? `: ${r.label}` : ''}`,
    '',
    `Run ${r.startedAt} with \`${r.command}\`. Machine: ${m.cpuCount} × ${m.cpuModel}, ${m.totalMemGb} GB RAM, ` +
      `Node ${m.node}, ${m.platform}, load average at the end ${m.loadAvg.join(' ')}. Demo world (${r.database}, ` +
      `${r.users.toLocaleString('en')} users), service at LOG_LEVEL=warn, load generator on the same cores.`,
    '',
    `Capacity (model-ranked answers/s at 64 connections, measured first after a 5 s warm-up): ${r.capacityRps}. Soak: open loop at ` +
      `${r.rateRps} requests/s (70 %) for ${Math.round(r.soakSeconds)} s, sampled every ${SLICE_S} s.`,
    '',
    '| RSS slope (least squares) | RSS first → last | p99 slope | median p99, first third → last third | p99 drift |',
    '|--:|--:|--:|--:|--:|',
    `| ${s.rssSlopeMbPerHour} MB/hour | ${s.rssFirstMb} → ${s.rssLastMb} MB | ${s.p99SlopeMsPerHour} ms/hour | ` +
      `${s.p99FirstThirdMs} → ${s.p99LastThirdMs} ms | ${s.p99DriftPct} % |`,
    '',
    '| t (s) | RSS MB | p99 ms | answers/s | model-ranked/s | errors | load average (1 min) |',
    '|--:|--:|--:|--:|--:|--:|--:|',
    ...r.samples.map(
      (x) =>
        `| ${x.t} | ${x.rssMb} | ${x.p99Ms} | ${x.answersPerS} | ${x.modelPerS} | ${x.errors} | ${x.load1 ?? '–'} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

main().catch((err: Error) => {
  process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
